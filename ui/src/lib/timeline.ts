/**
 * A conversation's messages as the app shows them, kept by pure functions so the rules are tested
 * (timeline.test.ts). Invariants:
 * - `messages` is sorted by `seq` and holds each id once, whatever order pages, live events and
 *   resume replays arrive in (they overlap after a reconnect).
 * - A later version of a message never loses to an earlier one: deletion is final, an edit wins
 *   over an older edit, reply counts only grow.
 * - An optimistic send stays in `pending` (shown after the last message) until the server's
 *   message with the same `client_id` arrives, which replaces it: a message is never shown twice.
 */
import type { Message } from "../api/client";

export interface Pending {
  client_id: string;
  channel_id: string;
  thread_root_id?: string | null;
  content: string;
  /** Files attached (uploaded and confirmed before the send). */
  file_ids?: string[];
  created_at: string;
  state: "sending" | "failed";
  error?: string;
}

export interface Timeline {
  messages: Message[];
  pending: Pending[];
  /** Whether older messages exist than the first one loaded. */
  hasOlder: boolean;
  /** The newest page has been loaded (live events can be applied). */
  loaded: boolean;
}

export const EMPTY: Timeline = { messages: [], pending: [], hasOlder: true, loaded: false };

const time = (s: string | null | undefined) => (s ? Date.parse(s) : 0);

/** The newer of two versions of one message. `fromEvent`: the incoming copy came over the socket,
 * whose message events do not carry reactions (those come as reaction events). */
export function newer(old: Message, incoming: Message, fromEvent: boolean): Message {
  if (old.deleted && !incoming.deleted) return old;
  const base = incoming.deleted || time(incoming.edited_at) >= time(old.edited_at) ? incoming : old;
  return {
    ...base,
    reply_count: Math.max(old.reply_count, incoming.reply_count),
    last_reply_at: time(incoming.last_reply_at) >= time(old.last_reply_at) ? incoming.last_reply_at : old.last_reply_at,
    reactions: fromEvent && !incoming.deleted ? old.reactions : base.reactions,
  };
}

/** Merge messages into a sorted, de-duplicated list. */
export function mergeMessages(list: Message[], incoming: Message[], fromEvent = false): Message[] {
  if (incoming.length === 0) return list;
  const byId = new Map(list.map((m) => [m.id, m]));
  for (const m of incoming) {
    const old = byId.get(m.id);
    byId.set(m.id, old ? newer(old, m, fromEvent) : m);
  }
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}

/** The timeline after messages arrive (a page or an event); confirms matching pending sends. */
export function receive(t: Timeline, incoming: Message[], fromEvent = false): Timeline {
  const top = incoming.filter((m) => !m.thread_root_id);
  const confirmed = new Set(incoming.map((m) => m.client_id).filter(Boolean));
  return {
    ...t,
    messages: mergeMessages(t.messages, top, fromEvent),
    pending: confirmed.size ? t.pending.filter((p) => !confirmed.has(p.client_id)) : t.pending,
  };
}

/** A thread's timeline: its root and its replies, nothing else of the channel. */
export function receiveThread(t: Timeline, rootId: string, incoming: Message[], fromEvent = false): Timeline {
  const mine = incoming.filter((m) => m.id === rootId || m.thread_root_id === rootId);
  const confirmed = new Set(mine.map((m) => m.client_id).filter(Boolean));
  return {
    ...t,
    messages: mergeMessages(t.messages, mine, fromEvent),
    pending: confirmed.size ? t.pending.filter((p) => !confirmed.has(p.client_id)) : t.pending,
  };
}

/** A message was deleted. */
export function deleteMessage(t: Timeline, id: string, at: string): Timeline {
  return {
    ...t,
    messages: t.messages.map((m) => (m.id === id ? { ...m, deleted: true, deleted_at: at, content: "", reactions: [] } : m)),
  };
}

/** A reaction was added or removed (by `userId`; `me` is the viewer). */
export function react(t: Timeline, messageId: string, emoji: string, userId: string, added: boolean, me: string): Timeline {
  return {
    ...t,
    messages: t.messages.map((m) => (m.id === messageId ? { ...m, reactions: applyReaction(m.reactions, emoji, userId, added, me) } : m)),
  };
}

export function applyReaction(list: Message["reactions"], emoji: string, userId: string, added: boolean, me: string): Message["reactions"] {
  const out = list.map((r) => ({ ...r, user_ids: [...r.user_ids] }));
  let r = out.find((x) => x.emoji === emoji);
  if (added) {
    if (r?.user_ids.includes(userId)) return list; // a replayed event
    if (!r) {
      r = { emoji, count: 0, me: false, user_ids: [] };
      out.push(r);
    }
    r.user_ids.push(userId);
    r.count += 1;
    if (userId === me) r.me = true;
  } else {
    if (!r || !r.user_ids.includes(userId)) return list;
    r.user_ids = r.user_ids.filter((u) => u !== userId);
    r.count -= 1;
    if (userId === me) r.me = false;
  }
  return out.filter((x) => x.count > 0);
}

/** Add an optimistic send. */
export function addPending(t: Timeline, p: Pending): Timeline {
  return { ...t, pending: [...t.pending.filter((x) => x.client_id !== p.client_id), p] };
}

/** Mark an optimistic send as failed (or sending again, on retry). */
export function setPendingState(t: Timeline, clientId: string, state: Pending["state"], error?: string): Timeline {
  return { ...t, pending: t.pending.map((p) => (p.client_id === clientId ? { ...p, state, error } : p)) };
}

export function dropPending(t: Timeline, clientId: string): Timeline {
  return { ...t, pending: t.pending.filter((p) => p.client_id !== clientId) };
}

/** The highest sequence number held (what `resume` continues after). */
export function lastSeq(t: Timeline): number {
  return t.messages.length ? (t.messages[t.messages.length - 1] as Message).seq : 0;
}
