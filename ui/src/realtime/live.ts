/**
 * What the socket tells the app, applied in one place: timelines, the conversation list's
 * counts, typing and presence. Components only read the stores.
 */
import { useSyncExternalStore } from "react";
import type { Conversation, Message, User } from "../api/client";
import { receive, receiveThread, deleteMessage, react } from "../lib/timeline";
import { threadKey, threadKeysHolding, timelines } from "../store/timelines";
import { keys, patchConversation } from "../store/data";
import { queryClient } from "../queryClient";
import { realtime, type Frame, type Presence } from "./socket";

/** A tiny observable map. */
class Observable<T> {
  private value: T;
  private listeners = new Set<() => void>();
  constructor(v: T) {
    this.value = v;
  }
  get = () => this.value;
  set(v: T) {
    this.value = v;
    for (const l of this.listeners) l();
  }
  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  };
}

/** channel → (user id → {username, until}) */
const typing = new Observable<Record<string, Record<string, { username: string; until: number }>>>({});
const presence = new Observable<Record<string, Presence>>({});
/** The conversation on screen while the window is visible: its messages count as read. */
let active: string | null = null;

export function setActiveConversation(id: string | null) {
  active = id;
}

/** Ids of the people typing in a conversation now (not the viewer). */
export function useTyping(channelId: string, me: string | undefined): string[] {
  const all = useSyncExternalStore(typing.subscribe, typing.get);
  const now = Date.now();
  return Object.entries(all[channelId] ?? {})
    .filter(([uid, t]) => uid !== me && t.until > now)
    .map(([uid]) => uid);
}

export function usePresence(userId: string | undefined): Presence | undefined {
  const all = useSyncExternalStore(presence.subscribe, presence.get);
  return userId ? all[userId] : undefined;
}

export function seedPresence(userId: string, status: string) {
  const cur = presence.get();
  if (cur[userId] === status) return;
  presence.set({ ...cur, [userId]: status as Presence });
}

function mentionsMe(m: Message, me: string): boolean {
  return m.mentions.user_ids.includes(me) || m.mentions.channel || m.mentions.here;
}

/**
 * A desktop notification for a mention or a direct message, when the tab is hidden, the browser
 * allows it and the user did not turn them off (settings); clicking it opens the conversation.
 */
function notify(m: Message, c: Conversation | undefined, me: string) {
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  if (localStorage.getItem("colink:notify") === "off" || document.visibilityState === "visible") return;
  const direct = c?.kind === "dm" || c?.kind === "group_dm";
  if (!direct && !mentionsMe(m, me)) return;
  const author = queryClient.getQueryData<User>(keys.user(m.user_id));
  const who = author ? author.display_name || author.username : "Someone";
  const where = direct ? "" : ` in #${c?.name ?? "a channel"}`;
  const n = new Notification(`${who}${where}`, { body: m.content.slice(0, 200), tag: m.id });
  n.onclick = () => {
    window.focus();
    if (c) {
      history.pushState(null, "", `/w/${c.workspace_id}/c/${c.id}`);
      dispatchEvent(new PopStateEvent("popstate"));
    }
    n.close();
  };
}

function onMessage(m: Message, me: string, created: boolean) {
  timelines.update(m.channel_id, (t) => (t.loaded ? receive(t, [m], true) : t));
  const root = m.thread_root_id ?? m.id;
  timelines.update(threadKey(root), (t) => (t.loaded ? receiveThread(t, root, [m], true) : t));
  if (!created) return;
  const mine = m.user_id === me;
  const seen = active === m.channel_id && document.visibilityState === "visible";
  let known = false;
  patchConversation(m.channel_id, (c: Conversation) => {
    known = true;
    const top = !m.thread_root_id;
    return {
      ...c,
      last_seq: Math.max(c.last_seq, m.seq),
      last_message_at: m.created_at,
      last_message: top ? m : c.last_message,
      unread_count: (c.unread_count ?? 0) + (top && !mine && !seen ? 1 : 0),
      mention_count: (c.mention_count ?? 0) + (!mine && !seen && mentionsMe(m, me) ? 1 : 0),
    };
  });
  if (!known) void queryClient.invalidateQueries({ queryKey: keys.conversations });
  if (!mine) notify(m, queryClient.getQueryData<Conversation[]>(keys.conversations)?.find((c) => c.id === m.channel_id), me);
}

export function handleFrame(frame: Frame, me: string) {
  switch (frame.type) {
    case "event": {
      const e = frame.event;
      switch (e.type) {
        case "message.created":
          onMessage(e.data, me, true);
          break;
        case "message.updated":
          onMessage(e.data, me, false);
          void queryClient.invalidateQueries({ queryKey: ["pins", e.data.channel_id] });
          break;
        case "message.deleted":
          if (e.channel_id) {
            const id = e.data.id;
            timelines.update(e.channel_id, (t) => deleteMessage(t, id, e.occurred_at));
            timelines.update(threadKey(e.data.thread_root_id ?? id), (t) => deleteMessage(t, id, e.occurred_at));
          }
          break;
        case "reaction.added":
        case "reaction.removed":
          if (e.channel_id) {
            const d = e.data;
            timelines.update(e.channel_id, (t) => react(t, d.message_id, d.emoji, d.user_id, e.type === "reaction.added", me));
            for (const key of threadKeysHolding(d.message_id)) timelines.update(key, (t) => react(t, d.message_id, d.emoji, d.user_id, e.type === "reaction.added", me));
          }
          break;
        case "conversation.read":
          if (e.channel_id && e.data.user_id === me) {
            const seq = e.data.last_read_seq;
            let stale = false;
            patchConversation(e.channel_id, (c) => {
              if (seq >= c.last_seq) return { ...c, last_read_seq: seq, unread_count: 0, mention_count: 0 };
              stale = true;
              return c;
            });
            if (stale) void queryClient.invalidateQueries({ queryKey: keys.conversations });
          }
          break;
        case "channel.created":
        case "channel.updated":
        case "channel.archived":
        case "member.joined":
        case "member.left":
          void queryClient.invalidateQueries({ queryKey: keys.conversations });
          if (e.channel_id) void queryClient.invalidateQueries({ queryKey: keys.members(e.channel_id) });
          void queryClient.invalidateQueries({ queryKey: ["browse"] });
          break;
        case "user.updated":
          // Names, statuses and roles show everywhere: fetch the person again, and my own
          // profile when it is mine (a role change, say).
          void queryClient.invalidateQueries({ queryKey: keys.user(e.data.id) });
          if (e.data.id === me) void queryClient.invalidateQueries({ queryKey: keys.me });
          void queryClient.invalidateQueries({ queryKey: ["members"] });
          break;
        default:
          break;
      }
      break;
    }
    case "typing": {
      const cur = typing.get();
      const ch = { ...(cur[frame.channel_id] ?? {}) };
      ch[frame.user_id] = { username: frame.username, until: Date.now() + 5_000 };
      typing.set({ ...cur, [frame.channel_id]: ch });
      // Re-render when it expires.
      setTimeout(() => typing.set({ ...typing.get() }), 5_100);
      break;
    }
    case "presence":
      seedPresence(frame.user_id, frame.status);
      break;
    default:
      break;
  }
  // A message from someone ends their typing indicator at once.
  if (frame.type === "event" && frame.event.type === "message.created") {
    const m = frame.event.data;
    const cur = typing.get();
    if (cur[m.channel_id]?.[m.user_id]) {
      const ch = { ...cur[m.channel_id] };
      delete ch[m.user_id];
      typing.set({ ...cur, [m.channel_id]: ch });
    }
  }
}

/** Start the socket and route its frames; returns the stop function. */
export function startLive(me: string): () => void {
  const off = realtime.on((f) => handleFrame(f, me));
  // Once every conversation is followed (after a start or a reconnect), the counts may have
  // moved before: read them again, once.
  const offFollowed = realtime.onFollowed(() => void queryClient.invalidateQueries({ queryKey: keys.conversations }));
  realtime.start();
  return () => {
    off();
    offFollowed();
    realtime.stop();
  };
}
