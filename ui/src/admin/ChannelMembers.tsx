import { useState } from "react";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, call, ApiError, type Schemas } from "../api/client";
import { Avatar } from "../components/Avatar";
import { Dialog } from "../components/Dialog";
import { FormError } from "../components/Form";
import { useDebounced } from "../lib/useDebounced";
import { queryClient } from "../queryClient";

type Row = Schemas["AdminChannel"];

/**
 * A channel's members, for admins: add people, remove them, or move a selection to another
 * channel of the same workspace (added there, then removed here).
 */
export function ChannelMembers({ row, onClose }: { row: Row; onClose: () => void }) {
  const key = ["admin", "channel-members", row.id];
  const members = useInfiniteQuery({
    queryKey: key,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => call(api.GET("/channels/{id}/members", { params: { path: { id: row.id }, query: { cursor: pageParam, limit: 200 } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const list = members.data?.pages.flatMap((p) => p.items) ?? [];
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [target, setTarget] = useState("");
  const [text, setText] = useState("");
  const query = useDebounced(text.trim(), 250);
  const found = useQuery({
    queryKey: ["admin", "people-pick", query],
    queryFn: () => call(api.GET("/admin/users", { params: { query: { query, status: "active", limit: 8 } } })),
    enabled: query.length > 1,
  });
  const channels = useQuery({
    queryKey: ["admin", "channels-of", row.workspace_id],
    queryFn: () => call(api.GET("/admin/channels", { params: { query: { workspace_id: row.workspace_id, archived: "live", limit: 200 } } })),
  });
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const refresh = () => Promise.all([queryClient.invalidateQueries({ queryKey: key }), queryClient.invalidateQueries({ queryKey: ["admin", "channels"] })]);
  const run = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "unknown", String(e)));
    } finally {
      setBusy(false);
      await refresh();
    }
  };
  const add = (channel: string, user: string) => call(api.POST("/channels/{id}/members", { params: { path: { id: channel } }, body: { user_id: user } }));
  const remove = (channel: string, user: string) => call(api.DELETE("/channels/{id}/members/{user_id}", { params: { path: { id: channel, user_id: user } } }));
  const move = () =>
    run(async () => {
      for (const user of picked) {
        await add(target, user);
        await remove(row.id, user);
      }
      setPicked(new Set());
    });
  const toggle = (id: string) =>
    setPicked((p) => {
      const next = new Set(p);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const memberIds = new Set(list.map((m) => m.user_id));
  const others = (channels.data?.items ?? []).filter((c) => c.id !== row.id);
  const addable = (found.data?.items ?? []).filter((u) => !memberIds.has(u.id) && u.role !== "bot");
  return (
    <Dialog title={`Members of #${row.name}`} onClose={onClose} wide>
      <div className="members-admin">
        <div className="actor-filter">
          <input type="search" placeholder="Add someone: name, username or email" aria-label="Add someone" value={text} onChange={(e) => setText(e.target.value)} />
          {query.length > 1 && addable.length > 0 ? (
            <ul className="suggestions">
              {addable.map((u) => (
                  <li key={u.id}>
                    <button
                      disabled={busy}
                      onClick={() => {
                        setText("");
                        void run(() => add(row.id, u.id));
                      }}
                    >
                      {u.display_name || u.username} <span className="muted">@{u.username}</span>
                    </button>
                  </li>
                ))}
            </ul>
          ) : null}
        </div>
        <FormError error={error} />
        <ul className="member-rows">
          {list.map((m) => (
            <li key={m.user_id}>
              <label className="member-pick">
                <input type="checkbox" checked={picked.has(m.user_id)} onChange={() => toggle(m.user_id)} aria-label={`Select ${m.display_name || m.username}`} />
                <Avatar userId={m.user_id} size={28} />
                <span>
                  <strong>{m.display_name || m.username}</strong> <span className="muted small">@{m.username}</span>
                </span>
              </label>
              {m.role !== "member" ? <span className="tag plain">{m.role}</span> : null}
              <button className="btn small danger" disabled={busy} onClick={() => void run(() => remove(row.id, m.user_id))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
        {members.hasNextPage ? (
          <button className="btn small" onClick={() => void members.fetchNextPage()}>
            Show more
          </button>
        ) : null}
        <div className="move-bar">
          <span className="muted small">{picked.size === 0 ? "Select people to move them to another channel." : `${picked.size} selected`}</span>
          <select aria-label="Move to" value={target} onChange={(e) => setTarget(e.target.value)} disabled={picked.size === 0}>
            <option value="">Move to…</option>
            {others.map((c) => (
              <option key={c.id} value={c.id}>
                {c.kind === "private" ? "🔒 " : "#"}
                {c.name}
              </option>
            ))}
          </select>
          <button className="btn small primary" disabled={busy || picked.size === 0 || !target} onClick={() => void move()}>
            Move
          </button>
        </div>
      </div>
    </Dialog>
  );
}
