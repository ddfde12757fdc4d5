/**
 * Chat markdown rendered straight to React elements: never HTML strings, so there is nothing to
 * sanitise and raw HTML in a message is shown as text. Supported, as in Slack and Mattermost:
 * fenced code blocks, `inline code`, **bold**, *italic* / _italic_, ~~strike~~, > quotes, - / 1.
 * lists, links (bare http(s) URLs, <url>, [text](url); only http, https and mailto), @mentions
 * (highlighted; the viewer's own, @channel, @here and @all stand out) and :emoji: shortcodes.
 */
import type { ReactNode } from "react";
import { emojiFor } from "./emoji";

export interface RenderOptions {
  /** The viewer's username: their mentions are highlighted more strongly. */
  me?: string;
  /** Called when a mention is clicked (e.g. to open the profile). */
  onMention?: (username: string) => void;
  /** The app path of a channel by name, when the viewer has it: `#name` becomes a link. */
  channelHref?: (name: string) => string | undefined;
  /** Follows an in-app link without reloading the page. */
  navigate?: (href: string) => void;
}

const SAFE_SCHEMES = ["http:", "https:", "mailto:"];

/** The URL if it is one a link may point to, else null (`javascript:` and friends are refused). */
export function safeUrl(raw: string): string | null {
  try {
    const url = new URL(raw);
    return SAFE_SCHEMES.includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

type Block =
  | { kind: "code"; lang: string; text: string }
  | { kind: "quote"; lines: string[] }
  | { kind: "list"; ordered: boolean; items: string[] }
  | { kind: "para"; lines: string[] };

/** Split a message into blocks. */
export function parseBlocks(src: string): Block[] {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let i = 0;
  const push = (b: Block) => {
    const last = blocks[blocks.length - 1];
    if (b.kind === "para" && last?.kind === "para") last.lines.push(...b.lines);
    else if (b.kind === "quote" && last?.kind === "quote") last.lines.push(...b.lines);
    else if (b.kind === "list" && last?.kind === "list" && last.ordered === b.ordered)
      last.items.push(...b.items);
    else blocks.push(b);
  };
  while (i < lines.length) {
    const line = lines[i] ?? "";
    const fence = /^\s*```\s*([\w+-]*)\s*(.*)$/.exec(line);
    if (fence) {
      const lang = fence[1] ?? "";
      const body: string[] = [];
      // ```code``` on one line
      const rest = fence[2] ?? "";
      if (rest.endsWith("```") && rest.length >= 3) {
        push({ kind: "code", lang: "", text: (lang ? lang + " " : "") + rest.slice(0, -3) });
        i += 1;
        continue;
      }
      if (rest) body.push(rest);
      i += 1;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i] ?? "")) {
        body.push(lines[i] ?? "");
        i += 1;
      }
      i += 1; // the closing fence (or the end)
      push({ kind: "code", lang, text: body.join("\n") });
      continue;
    }
    const quote = /^>\s?(.*)$/.exec(line);
    if (quote) {
      push({ kind: "quote", lines: [quote[1] ?? ""] });
    } else if (/^\s*[-*•]\s+/.test(line)) {
      push({ kind: "list", ordered: false, items: [line.replace(/^\s*[-*•]\s+/, "")] });
    } else if (/^\s*\d{1,3}[.)]\s+/.test(line)) {
      push({ kind: "list", ordered: true, items: [line.replace(/^\s*\d{1,3}[.)]\s+/, "")] });
    } else {
      push({ kind: "para", lines: [line] });
    }
    i += 1;
  }
  // Trailing empty lines of paragraphs are noise.
  for (const b of blocks) {
    if (b.kind === "para") {
      while (b.lines.length > 1 && b.lines[b.lines.length - 1] === "") b.lines.pop();
      while (b.lines.length > 1 && b.lines[0] === "") b.lines.shift();
    }
  }
  return blocks;
}

// One regex for every inline token; the first alternative that matches at a position wins.
const INLINE_SOURCE =
  [
    "`([^`\\n]+)`", // 1 code
    "\\*\\*([^*\\n]+?)\\*\\*", // 2 bold
    "~~([^~\\n]+?)~~", // 3 strike
    "(?<![\\w*])\\*([^*\\s][^*\\n]*?)\\*(?![\\w*])", // 4 italic *x*
    "(?<![\\w_])_([^_\\s][^_\\n]*?)_(?![\\w_])", // 5 italic _x_
    "\\[([^\\]\\n]{1,200})\\]\\(([^)\\s]{1,2000})\\)", // 6,7 [text](url)
    "<((?:https?|mailto):[^>\\s]{1,2000})>", // 8 <url>
    "((?:https?://)[^\\s<>()\"']{1,2000}[^\\s<>()\"'.,;:!?])", // 9 bare url
    "(?<![\\w@])@([a-z0-9][a-z0-9._-]{0,31}[a-z0-9]|[a-z0-9])(?![\\w-])", // 10 mention
    ":([a-z0-9_+-]{1,40}):", // 11 emoji
    "(?<![\\w#&/])#([a-z0-9][a-z0-9_-]{0,79})(?![\\w-])", // 12 channel
  ].join("|");

const BROADCAST = new Set(["channel", "here", "all", "everyone"]);

/** Render inline markdown of one line. */
export function renderInline(text: string, opts: RenderOptions, keyBase = ""): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let n = 0;
  const key = () => `${keyBase}.${n++}`;
  // A fresh regex per call: the nested calls for bold/italic must not move this one's lastIndex.
  const inline = new RegExp(INLINE_SOURCE, "gi");
  for (let m = inline.exec(text); m; m = inline.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] !== undefined) out.push(<code key={key()}>{m[1]}</code>);
    else if (m[2] !== undefined) out.push(<strong key={key()}>{renderInline(m[2], opts, key())}</strong>);
    else if (m[3] !== undefined) out.push(<del key={key()}>{renderInline(m[3], opts, key())}</del>);
    else if (m[4] !== undefined || m[5] !== undefined)
      out.push(<em key={key()}>{renderInline((m[4] ?? m[5]) as string, opts, key())}</em>);
    else if (m[6] !== undefined && m[7] !== undefined) {
      const href = safeUrl(m[7]);
      out.push(
        href ? (
          <a key={key()} href={href} target="_blank" rel="noopener noreferrer nofollow">
            {m[6]}
          </a>
        ) : (
          m[0]
        ),
      );
    } else if (m[8] !== undefined || m[9] !== undefined) {
      const raw = (m[8] ?? m[9]) as string;
      const href = safeUrl(raw);
      out.push(
        href ? (
          <a key={key()} href={href} target="_blank" rel="noopener noreferrer nofollow">
            {raw}
          </a>
        ) : (
          raw
        ),
      );
    } else if (m[10] !== undefined) {
      const name = m[10].toLowerCase();
      const cls = BROADCAST.has(name) || name === opts.me?.toLowerCase() ? "mention mention-me" : "mention";
      out.push(
        <span
          key={key()}
          className={cls}
          role={opts.onMention ? "button" : undefined}
          tabIndex={opts.onMention ? 0 : undefined}
          onClick={opts.onMention ? () => opts.onMention?.(name) : undefined}
        >
          @{m[10]}
        </span>,
      );
    } else if (m[12] !== undefined) {
      const href = opts.channelHref?.(m[12].toLowerCase());
      out.push(
        href ? (
          <a
            key={key()}
            className="channel-link"
            href={href}
            onClick={(e) => {
              if (!opts.navigate) return;
              e.preventDefault();
              opts.navigate(href);
            }}
          >
            #{m[12]}
          </a>
        ) : (
          m[0]
        ),
      );
    } else if (m[11] !== undefined) {
      const e = emojiFor(m[11].toLowerCase());
      out.push(
        e ? (
          <span key={key()} className="emoji" title={`:${m[11]}:`}>
            {e}
          </span>
        ) : (
          m[0]
        ),
      );
    }
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function lines(ls: string[], opts: RenderOptions, keyBase: string): ReactNode[] {
  const out: ReactNode[] = [];
  ls.forEach((l, i) => {
    if (i > 0) out.push(<br key={`${keyBase}br${i}`} />);
    out.push(...renderInline(l, opts, `${keyBase}l${i}`));
  });
  return out;
}

/** Whether a message is only emoji (shown larger, as Slack does). */
export function isJumbo(src: string): boolean {
  const t = src.trim().replace(/:([a-z0-9_+-]{1,40}):/gi, (m, name: string) => emojiFor(name.toLowerCase()) ?? m);
  return t.length > 0 && t.length <= 24 && /^(\p{Extended_Pictographic}|\p{Emoji_Modifier}|\u200d|\ufe0f|\s)+$/u.test(t);
}

/** The whole message as React elements. */
export function Markdown({ text, ...opts }: { text: string } & RenderOptions) {
  const blocks = parseBlocks(text);
  return (
    <div className={isJumbo(text) ? "md jumbo" : "md"}>
      {blocks.map((b, i) => {
        const k = `b${i}`;
        switch (b.kind) {
          case "code":
            return (
              <pre key={k} className="code-block" data-lang={b.lang || undefined}>
                <code>{b.text}</code>
              </pre>
            );
          case "quote":
            return <blockquote key={k}>{lines(b.lines, opts, k)}</blockquote>;
          case "list": {
            const items = b.items.map((it, j) => <li key={j}>{renderInline(it, opts, `${k}i${j}`)}</li>);
            return b.ordered ? <ol key={k}>{items}</ol> : <ul key={k}>{items}</ul>;
          }
          case "para":
            return <p key={k}>{lines(b.lines, opts, k)}</p>;
        }
      })}
    </div>
  );
}
