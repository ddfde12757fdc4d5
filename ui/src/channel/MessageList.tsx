import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { Icon } from "../components/Icon";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { User } from "../api/client";
import type { Timeline } from "../lib/timeline";
import { buildRows } from "../lib/rows";
import { MessageItem, PendingItem } from "./MessageItem";

const NEAR_BOTTOM = 48;

/**
 * A virtualised list that reads bottom-up: it sticks to the newest message while the reader is at
 * the bottom, keeps the reader's place when older pages load above, and offers a jump back to the
 * latest message otherwise.
 */
export function MessageList({
  channelId,
  timeline,
  me,
  newAfter,
  onLoadOlder,
  onAtBottom,
  intro,
  focusId,
}: {
  channelId: string;
  timeline: Timeline;
  me: User | undefined;
  newAfter: number | null;
  onLoadOlder: () => Promise<void>;
  onAtBottom: () => void;
  intro: ReactNode;
  /** A message to bring into view and mark (opened from search). */
  focusId?: string | null;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const rows = useMemo(() => buildRows(timeline.messages, timeline.pending, newAfter, me?.id), [timeline.messages, timeline.pending, newAfter, me?.id]);
  const stick = useRef(true);
  const [atBottom, setAtBottom] = useState(true);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);

  const v = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => (rows[i]?.kind === "day" ? 44 : rows[i]?.kind === "new" ? 28 : rows[i]?.kind === "message" && rows[i].grouped ? 28 : 64),
    getItemKey: (i) => rows[i]?.key ?? i,
    overscan: 10,
  });

  // Keep the reader's place when rows are added above (older pages).
  const firstKey = useRef<string | null>(null);
  const prevTotal = useRef(0);
  const total = v.getTotalSize();
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const key = rows[0]?.key ?? null;
    if (stick.current) {
      el.scrollTop = el.scrollHeight;
    } else if (firstKey.current !== null && key !== firstKey.current && prevTotal.current > 0) {
      el.scrollTop += total - prevTotal.current;
    }
    firstKey.current = key;
    prevTotal.current = total;
  }, [rows, total]);

  // Bring the focused message into view once it is loaded, and stop following the bottom.
  const focusedDone = useRef<string | null>(null);
  useEffect(() => {
    if (!focusId || focusedDone.current === focusId) return;
    const index = rows.findIndex((r) => r.kind === "message" && r.message.id === focusId);
    if (index < 0) return;
    focusedDone.current = focusId;
    stick.current = false;
    setAtBottom(false);
    v.scrollToIndex(index, { align: "center" });
  }, [focusId, rows, v]);

  // Edit the last own message (↑ in an empty composer).
  useEffect(() => {
    const onEditLast = (e: Event) => {
      if ((e as CustomEvent<string>).detail !== channelId) return;
      const mine = [...timeline.messages].reverse().find((m) => m.user_id === me?.id && !m.deleted);
      if (mine) setEditing(mine.id);
    };
    window.addEventListener("colink:edit-last", onEditLast);
    return () => window.removeEventListener("colink:edit-last", onEditLast);
  }, [channelId, timeline.messages, me?.id]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM;
    stick.current = bottom;
    if (bottom !== atBottom) setAtBottom(bottom);
    if (bottom) onAtBottom();
    if (el.scrollTop < 400 && timeline.hasOlder && !loadingOlder && timeline.loaded) {
      setLoadingOlder(true);
      void onLoadOlder().finally(() => setLoadingOlder(false));
    }
  };

  // New messages while at the bottom count as read.
  useEffect(() => {
    if (stick.current && timeline.loaded) onAtBottom();
  }, [timeline.messages.length, timeline.loaded, onAtBottom]);

  // A short history that does not fill the screen: nothing to scroll, so load more now.
  useEffect(() => {
    const el = scrollRef.current;
    if (el && timeline.loaded && timeline.hasOlder && !loadingOlder && el.scrollHeight <= el.clientHeight) {
      setLoadingOlder(true);
      void onLoadOlder().finally(() => setLoadingOlder(false));
    }
  }, [timeline.loaded, timeline.hasOlder, loadingOlder, onLoadOlder, total]);

  const items = v.getVirtualItems();
  return (
    <div className="messages-wrap">
      <div className="messages" ref={scrollRef} onScroll={onScroll} role="log" aria-label="Messages" aria-live="polite" tabIndex={0}>
        {!timeline.hasOlder && timeline.loaded ? intro : null}
        {loadingOlder ? <div className="loading-older">Loading older messages…</div> : null}
        {!timeline.loaded ? <div className="loading-older">Loading messages…</div> : null}
        <div style={{ height: total, position: "relative", width: "100%" }}>
          {items.map((vi) => {
            const row = rows[vi.index];
            if (!row) return null;
            return (
              <div key={vi.key} data-index={vi.index} ref={v.measureElement} className="row" style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${vi.start}px)` }}>
                {row.kind === "day" ? (
                  <div className="day-divider" role="separator">
                    <span>{row.label}</span>
                  </div>
                ) : row.kind === "new" ? (
                  <div className="new-line" role="separator" aria-label="New messages">
                    <span>New</span>
                  </div>
                ) : row.kind === "message" ? (
                  <MessageItem message={row.message} grouped={row.grouped} me={me} focused={row.message.id === focusId} editing={editing === row.message.id} onEdit={(on) => setEditing(on ? row.message.id : null)} />
                ) : (
                  <PendingItem pending={row.pending} grouped={row.grouped} me={me} />
                )}
              </div>
            );
          })}
        </div>
      </div>
      {!atBottom ? (
        <button
          className="jump-latest"
          onClick={() => {
            const el = scrollRef.current;
            if (el) el.scrollTop = el.scrollHeight;
            stick.current = true;
            setAtBottom(true);
          }}
        >
          Jump to latest <Icon name="down" size={14} />
        </button>
      ) : null}
    </div>
  );
}
