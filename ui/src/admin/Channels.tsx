import { useState } from "react";
import { useDebounced } from "../lib/useDebounced";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { Dialog } from "../components/Dialog";
import { Field, FormError, useSubmit } from "../components/Form";
import { Icon } from "../components/Icon";
import { useWorkspaces } from "../store/data";
import { queryClient } from "../queryClient";
import { ago } from "./format";
import { ChannelMembers } from "./ChannelMembers";

type Row = Schemas["AdminChannel"];
type Archived = Schemas["ArchivedFilter"];
type Change = "rename" | "archive" | "unarchive" | "public" | "private";

/** `/admin/channels`: every public and private channel, with counts; rename, archive, unarchive. */
export function Channels() {
  const workspaces = useWorkspaces();
  const [text, setText] = useState("");
  const query = useDebounced(text.trim(), 250);
  const [kind, setKind] = useState<"" | "public" | "private">("");
  const [workspace, setWorkspace] = useState("");
  const counts = useQuery({ queryKey: ["admin", "workspaces"], queryFn: () => call(api.GET("/admin/workspaces")) });
  const [archived, setArchived] = useState<Archived>("any");
  const list = useInfiniteQuery({
    queryKey: ["admin", "channels", query, kind, archived, workspace],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => call(api.GET("/admin/channels", { params: { query: { query: query || undefined, kind: kind || undefined, archived, workspace_id: workspace || undefined, cursor: pageParam, limit: 50 } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];
  const manyWorkspaces = (counts.data?.items.length ?? workspaces.data?.length ?? 0) > 1;
  const wsName = (id: string) => counts.data?.items.find((w) => w.id === id)?.name ?? workspaces.data?.find((w) => w.id === id)?.name ?? "";
  const [change, setChange] = useState<{ row: Row; what: Change } | null>(null);
  const [membersOf, setMembersOf] = useState<Row | null>(null);
  return (
    <>
      <header className="admin-head">
        <h1>Workspaces and channels</h1>
      </header>
      <section className="card flush workspaces-card" aria-label="Workspaces">
        <table className="admin-table">
          <thead>
            <tr>
              <th>Workspace</th>
              <th>Members</th>
              <th>Channels</th>
              <th className="hide-narrow">Messages</th>
              <th className="hide-narrow">Created</th>
            </tr>
          </thead>
          <tbody>
            {(counts.data?.items ?? []).map((w) => (
              <tr key={w.id} className={w.id === workspace ? "selected-row" : undefined}>
                <td>
                  <button className="link-btn" aria-pressed={w.id === workspace} onClick={() => setWorkspace(w.id === workspace ? "" : w.id)} title="Show only its channels">
                    {w.name}
                  </button>
                </td>
                <td>{w.members.toLocaleString()}</td>
                <td>{w.channels.toLocaleString()}</td>
                <td className="hide-narrow">{w.messages.toLocaleString()}</td>
                <td className="hide-narrow muted">{new Date(w.created_at).toLocaleDateString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <div className="toolbar">
        <input className="grow" type="search" placeholder="Search channels by name" aria-label="Search channels" value={text} onChange={(e) => setText(e.target.value)} />
        <select aria-label="Kind" value={kind} onChange={(e) => setKind(e.target.value as "" | "public" | "private")}>
          <option value="">Public and private</option>
          <option value="public">Public</option>
          <option value="private">Private</option>
        </select>
        <select aria-label="State" value={archived} onChange={(e) => setArchived(e.target.value as Archived)}>
          <option value="any">Live and archived</option>
          <option value="live">Live</option>
          <option value="archived">Archived</option>
        </select>
      </div>
      <div className="table-wrap card flush">
        <table className="admin-table">
          <thead>
            <tr>
              <th>Channel</th>
              {manyWorkspaces ? <th className="hide-narrow">Workspace</th> : null}
              <th>Members</th>
              <th className="hide-narrow">Messages</th>
              <th className="hide-narrow">Last message</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.id} className={c.archived_at ? "archived-row" : undefined}>
                <td>
                  <span className="channel-cell">
                    <Icon name={c.kind === "private" ? "lock" : "hash"} size={16} />
                    <strong>{c.name}</strong>
                    {c.archived_at ? <span className="tag plain">archived</span> : null}
                  </span>
                  {c.topic ? <div className="muted small">{c.topic}</div> : null}
                </td>
                {manyWorkspaces ? <td className="hide-narrow">{wsName(c.workspace_id)}</td> : null}
                <td>{c.member_count.toLocaleString()}</td>
                <td className="hide-narrow">{c.messages.toLocaleString()}</td>
                <td className="hide-narrow muted">{ago(c.last_message_at)}</td>
                <td className="cell-actions">
                  <span className="row-actions end-inline">
                    {c.archived_at ? (
                      <button className="btn small" onClick={() => setChange({ row: c, what: "unarchive" })}>
                        Unarchive…
                      </button>
                    ) : (
                      <>
                        <button className="btn small" onClick={() => setMembersOf(c)}>
                          Members…
                        </button>
                        <button className="btn small" onClick={() => setChange({ row: c, what: "rename" })}>
                          Rename…
                        </button>
                        <button className="btn small" onClick={() => setChange({ row: c, what: c.kind === "private" ? "public" : "private" })}>
                          {c.kind === "private" ? "Make public…" : "Make private…"}
                        </button>
                        <button className="btn small danger" onClick={() => setChange({ row: c, what: "archive" })}>
                          Archive…
                        </button>
                      </>
                    )}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.isSuccess && rows.length === 0 ? <p className="empty-row muted">No channel matches.</p> : null}
      </div>
      {list.hasNextPage ? (
        <button className="btn more-results" disabled={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
          Show more
        </button>
      ) : null}
      {membersOf ? <ChannelMembers row={membersOf} onClose={() => setMembersOf(null)} /> : null}
      {change ? <ChangeDialog row={change.row} what={change.what} onClose={() => setChange(null)} /> : null}
    </>
  );
}

function ChangeDialog({ row, what, onClose }: { row: Row; what: Change; onClose: () => void }) {
  const [name, setName] = useState(row.name);
  const run = useSubmit(async () => {
    const path = { params: { path: { id: row.id } } };
    if (what === "rename") await call(api.PUT("/channels/{id}", { ...path, body: { name } }));
    else if (what === "archive") await call(api.DELETE("/channels/{id}", path));
    else if (what === "public" || what === "private") await call(api.PUT("/admin/channels/{id}/kind", { ...path, body: { kind: what } }));
    else await call(api.POST("/admin/channels/{id}/unarchive", path));
    await queryClient.invalidateQueries({ queryKey: ["admin", "channels"] });
    onClose();
  });
  const title = {
    rename: `Rename #${row.name}`,
    archive: `Archive #${row.name}?`,
    unarchive: `Unarchive #${row.name}?`,
    public: `Make #${row.name} public?`,
    private: `Make #${row.name} private?`,
  }[what];
  const label = { rename: "Rename", archive: "Archive", unarchive: "Unarchive", public: "Make public", private: "Make private" }[what];
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={run.submit}>
        {what === "rename" ? (
          <Field label="New name" value={name} onChange={(e) => setName(e.target.value.toLowerCase())} error={run.error?.field("name")} hint="Lowercase letters, digits, dashes and underscores. Links to the channel keep working." autoFocus required />
        ) : what === "archive" ? (
          <p>
            Its {row.member_count} {row.member_count === 1 ? "member keeps" : "members keep"} the history, but nobody can post, react or join until it is unarchived.
          </p>
        ) : what === "private" ? (
          <p>Only its {row.member_count} current {row.member_count === 1 ? "member keeps" : "members keep"} reading it. Everyone else in the workspace loses it at once, including anyone who has it open; new people join only when added.</p>
        ) : what === "public" ? (
          <p>Everyone in the workspace can find, read and join it, including its whole history.</p>
        ) : (
          <p>Its members can post in it again.</p>
        )}
        {run.error && run.error.fieldErrors.length === 0 ? <FormError error={run.error} /> : null}
        <div className="row-actions end">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className={what === "archive" ? "btn danger-solid" : "btn primary"} disabled={run.busy || (what === "rename" && (!name.trim() || name === row.name))}>
            {label}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
