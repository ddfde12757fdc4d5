/** Shortcodes for the emoji people use most in chat (the picker and `:name:` autocomplete). */
export const EMOJI: ReadonlyArray<readonly [string, string]> = [
  ["+1", "👍"], ["-1", "👎"], ["smile", "😄"], ["grinning", "😀"], ["joy", "😂"], ["rofl", "🤣"],
  ["slightly_smiling_face", "🙂"], ["wink", "😉"], ["blush", "😊"], ["heart_eyes", "😍"],
  ["thinking_face", "🤔"], ["neutral_face", "😐"], ["sweat_smile", "😅"], ["upside_down_face", "🙃"],
  ["cry", "😢"], ["sob", "😭"], ["scream", "😱"], ["rage", "😡"], ["sunglasses", "😎"],
  ["partying_face", "🥳"], ["exploding_head", "🤯"], ["face_palm", "🤦"], ["shrug", "🤷"],
  ["eyes", "👀"], ["raised_hands", "🙌"], ["clap", "👏"], ["pray", "🙏"], ["muscle", "💪"],
  ["wave", "👋"], ["ok_hand", "👌"], ["point_up", "☝️"], ["v", "✌️"], ["handshake", "🤝"],
  ["heart", "❤️"], ["orange_heart", "🧡"], ["yellow_heart", "💛"], ["green_heart", "💚"],
  ["blue_heart", "💙"], ["purple_heart", "💜"], ["broken_heart", "💔"], ["fire", "🔥"],
  ["sparkles", "✨"], ["star", "⭐"], ["tada", "🎉"], ["rocket", "🚀"], ["100", "💯"],
  ["white_check_mark", "✅"], ["heavy_check_mark", "✔️"], ["x", "❌"], ["warning", "⚠️"],
  ["question", "❓"], ["exclamation", "❗"], ["bulb", "💡"], ["memo", "📝"], ["pushpin", "📌"],
  ["link", "🔗"], ["lock", "🔒"], ["key", "🔑"], ["bug", "🐛"], ["wrench", "🔧"], ["hammer", "🔨"],
  ["gear", "⚙️"], ["chart_with_upwards_trend", "📈"], ["calendar", "📅"], ["clock3", "🕒"],
  ["hourglass", "⌛"], ["coffee", "☕"], ["pizza", "🍕"], ["beer", "🍺"], ["cake", "🍰"],
  ["sun", "☀️"], ["cloud", "☁️"], ["rainbow", "🌈"], ["snowflake", "❄️"], ["zap", "⚡"],
  ["house", "🏠"], ["computer", "💻"], ["phone", "📱"], ["email", "📧"], ["bell", "🔔"],
  ["no_bell", "🔕"], ["speech_balloon", "💬"], ["thought_balloon", "💭"], ["mag", "🔍"],
  ["trophy", "🏆"], ["medal", "🏅"], ["dart", "🎯"], ["gift", "🎁"], ["balloon", "🎈"],
  ["dog", "🐶"], ["cat", "🐱"], ["unicorn", "🦄"], ["see_no_evil", "🙈"], ["ghost", "👻"],
  ["robot", "🤖"], ["skull", "💀"], ["poop", "💩"], ["construction", "🚧"], ["red_circle", "🔴"],
  ["green_circle", "🟢"], ["large_blue_circle", "🔵"], ["arrow_right", "➡️"], ["arrow_up", "⬆️"],
  ["repeat", "🔁"], ["heavy_plus_sign", "➕"], ["sleeping", "😴"], ["mask", "😷"], ["nerd_face", "🤓"],
];

const BY_NAME = new Map(EMOJI);

/** The emoji for a shortcode (without colons), if known. */
export function emojiFor(name: string): string | undefined {
  return BY_NAME.get(name);
}

/** Shortcodes starting with (then containing) `prefix`, best first. */
export function searchEmoji(prefix: string, limit = 8): Array<readonly [string, string]> {
  const p = prefix.toLowerCase();
  const starts = EMOJI.filter(([n]) => n.startsWith(p));
  const contains = EMOJI.filter(([n]) => !n.startsWith(p) && n.includes(p));
  return [...starts, ...contains].slice(0, limit);
}
