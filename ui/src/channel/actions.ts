/** Writes from the conversation view, with their optimistic updates. */
import { api, call, ApiError, type Message } from "../api/client";
import { addPending, receive, receiveThread, react, setPendingState, type Pending } from "../lib/timeline";
import { threadKey, threadKeysHolding, timelines } from "../store/timelines";

const timelineKey = (p: { channel_id: string; thread_root_id?: string | null }) => (p.thread_root_id ? threadKey(p.thread_root_id) : p.channel_id);

/** Post a message or a thread reply, optimistically. */
export function post(channelId: string, content: string, threadRootId: string | null = null, fileIds: string[] = []) {
  const p: Pending = { client_id: crypto.randomUUID(), channel_id: channelId, thread_root_id: threadRootId, content, file_ids: fileIds, created_at: new Date().toISOString(), state: "sending" };
  timelines.update(timelineKey(p), (t) => addPending(t, p));
  void resend(p);
}

/** Send with a client id: the server answers a retry with the same message, never a second one. */
export async function resend(p: Pending) {
  const key = timelineKey(p);
  timelines.update(key, (t) => setPendingState(t, p.client_id, "sending"));
  try {
    const body = { content: p.content, client_id: p.client_id, file_ids: p.file_ids ?? [] };
    const m = p.thread_root_id
      ? await call(api.POST("/messages/{id}/threads", { params: { path: { id: p.thread_root_id } }, body }))
      : await call(api.POST("/channels/{id}/messages", { params: { path: { id: p.channel_id } }, body }));
    if (p.thread_root_id) {
      const root = p.thread_root_id;
      timelines.update(key, (t) => receiveThread(t, root, [m]));
    } else {
      timelines.update(key, (t) => receive(t, [m]));
    }
  } catch (e) {
    const msg = e instanceof ApiError ? e.message : "Not sent.";
    timelines.update(key, (t) => setPendingState(t, p.client_id, "failed", msg));
  }
}

function reactEverywhere(m: Message, emoji: string, me: string, added: boolean) {
  timelines.update(m.channel_id, (t) => react(t, m.id, emoji, me, added, me));
  for (const k of threadKeysHolding(m.id)) timelines.update(k, (t) => react(t, m.id, emoji, me, added, me));
}

/** Toggle the viewer's reaction; the socket's event confirms it for everyone else. */
export async function toggleReaction(m: Message, emoji: string, me: string) {
  const mine = m.reactions.find((r) => r.emoji === emoji)?.me ?? false;
  reactEverywhere(m, emoji, me, !mine);
  try {
    if (mine) {
      await call(api.DELETE("/messages/{id}/reactions/{emoji}", { params: { path: { id: m.id, emoji } } }));
    } else {
      await call(api.POST("/messages/{id}/reactions", { params: { path: { id: m.id } }, body: { emoji } }));
    }
  } catch {
    reactEverywhere(m, emoji, me, mine);
  }
}
