import { useEffect, useMemo, useRef } from "react";
import { Icon } from "../components/Icon";
import { api, call, type User } from "../api/client";
import { receiveThread } from "../lib/timeline";
import { threadKey, timelines, useTimeline } from "../store/timelines";
import { MessageItem, PendingItem } from "./MessageItem";
import { Composer } from "./Composer";
import { post } from "./actions";
import { ThreadOpener } from "./threadContext";

/** A thread beside the channel: the root, its replies live, and a reply composer. */
export function ThreadPanel({ rootId, channelId, ws, me, onClose }: { rootId: string; channelId: string; ws: string; me: User | undefined; onClose: () => void }) {
  const key = threadKey(rootId);
  const t = useTimeline(key);
  const scrollRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      const page = await call(api.GET("/messages/{id}/thread", { params: { path: { id: rootId }, query: { limit: 200 } } }));
      if (!cancelled) timelines.update(key, (x) => ({ ...receiveThread(x, rootId, page.items), loaded: true, hasOlder: false }));
    })();
    return () => {
      cancelled = true;
    };
  }, [rootId, key]);

  const root = t.messages.find((m) => m.id === rootId);
  const replies = useMemo(() => t.messages.filter((m) => m.id !== rootId), [t.messages, rootId]);
  const last = replies[replies.length - 1];

  // Follow the newest reply, and move the thread's read marker to it.
  useEffect(() => {
    const el = scrollRef.current;
    if (el) el.scrollTop = el.scrollHeight;
    if (last) void call(api.POST("/messages/{id}/thread/read", { params: { path: { id: rootId } }, body: { seq: last.seq } })).catch(() => undefined);
  }, [last, t.pending.length, rootId]);

  return (
    <aside className="panel thread" aria-label="Thread">
      <div className="panel-head">
        <h2>Thread</h2>
        <button className="icon-btn" aria-label="Close thread" onClick={onClose}>
          <Icon name="close" />
        </button>
      </div>
      <ThreadOpener.Provider value={null}>
      <div className="thread-scroll" ref={scrollRef} role="log" aria-label="Replies">
        {root ? <MessageItem message={root} grouped={false} me={me} editing={false} onEdit={() => undefined} /> : <div className="loading-older">Loading…</div>}
        {root ? (
          <div className="thread-count">
            <span>
              {replies.length} {replies.length === 1 ? "reply" : "replies"}
            </span>
          </div>
        ) : null}
        {replies.map((m, i) => (
          <MessageItem key={m.id} message={m} grouped={i > 0 && replies[i - 1]?.user_id === m.user_id && Date.parse(m.created_at) - Date.parse(replies[i - 1]?.created_at ?? "") < 300_000} me={me} editing={false} onEdit={() => undefined} />
        ))}
        {t.pending.map((p) => (
          <PendingItem key={p.client_id} pending={p} grouped={false} me={me} />
        ))}
      </div>
      </ThreadOpener.Provider>
      <Composer channelId={channelId} draftId={key} ws={ws} placeholder="Reply…" onSend={(text, files) => post(channelId, text, rootId, files)} />
    </aside>
  );
}
