import { useEffect, useRef, useState } from "react";
import { Link } from "wouter";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, call, ApiError, type Schemas } from "../api/client";
import { session } from "../api/session";
import { FormError } from "../components/Form";
import { useUser } from "../store/data";
import { dateTime } from "./format";

/** The actions the server records (service::audit::action), grouped for the filter. */
const ACTIONS: ReadonlyArray<readonly [string, string[]]> = [
  ["Sign-in and security", ["auth.login_succeeded", "auth.login_failed", "auth.logout_all", "auth.password_changed", "auth.password_reset", "auth.refresh_token_reuse", "auth.session_revoked", "auth.totp_enabled", "auth.totp_disabled", "auth.totp_reset"]],
  ["People", ["user.created", "user.identity_linked", "user.role_changed", "user.suspended", "user.unsuspended", "user.deactivated", "user.reactivated"]],
  ["Moderation", ["moderation.message_deleted", "moderation.reports_dismissed", "moderation.message_restored", "moderation.rule_added", "moderation.rule_removed"]],
  ["Bots and workspaces", ["client.created", "client.revoked", "client.secret_rotated", "workspace.created", "setup.completed"]],
];

type Filters = { action: string; actor: string; target: string; from: string; to: string };

/** `YYYY-MM-DD` from a date input as the start of that local day, in RFC 3339. */
function dayStart(day: string, plusDays = 0): string | undefined {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00`);
  d.setDate(d.getDate() + plusDays);
  return d.toISOString();
}

/** `/admin/audit`: who did what, when; filter, scroll back forever, export. */
export function Audit() {
  const [filters, setFilters] = useState<Filters>({ action: "", actor: "", target: "", from: "", to: "" });
  const [actorText, setActorText] = useState("");
  const actorMatch = useQuery({
    queryKey: ["admin", "actor", actorText.trim()],
    queryFn: () => call(api.GET("/admin/users", { params: { query: { query: actorText.trim(), limit: 5 } } })),
    enabled: actorText.trim().length > 1,
  });
  const query = {
    action: filters.action || undefined,
    actor_id: filters.actor || undefined,
    target_id: filters.target || undefined,
    from: dayStart(filters.from),
    // The "to" day is included: the server's `to` is exclusive.
    to: dayStart(filters.to, 1),
  };
  const log = useInfiniteQuery({
    queryKey: ["admin", "audit", query],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => call(api.GET("/admin/audit", { params: { query: { ...query, cursor: pageParam, limit: 50 } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = log.data?.pages.flatMap((p) => p.items) ?? [];
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = end.current;
    if (!el) return;
    const seen = new IntersectionObserver((e) => {
      if (e[0]?.isIntersecting && log.hasNextPage && !log.isFetchingNextPage) void log.fetchNextPage();
    });
    seen.observe(el);
    return () => seen.disconnect();
  }, [log]);
  const [exportError, setExportError] = useState<ApiError | null>(null);
  const exportAs = async (format: Schemas["ExportFormat"]) => {
    setExportError(null);
    const params = new URLSearchParams({ format });
    for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
    const res = await fetch(`/api/v1/admin/audit/export?${params}`, { headers: { Authorization: `Bearer ${session.accessToken() ?? ""}` } });
    if (!res.ok) {
      setExportError(new ApiError(res.status, "export_failed", `The export failed (${res.status}).`));
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `colink-audit-${new Date().toISOString().slice(0, 10)}.${format === "csv" ? "csv" : "jsonl"}`;
    a.click();
    URL.revokeObjectURL(url);
  };
  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));
  const targetName = (id: string) => {
    const row = rows.find((r) => r.target_id === id);
    return row?.target_type === "user" ? <ActorName id={id} /> : `${row?.target_type ?? "item"} ${id.slice(0, 8)}`;
  };
  return (
    <>
      <header className="admin-head">
        <h1>Audit log</h1>
        <div className="row-actions">
          <button className="btn small" onClick={() => void exportAs("csv")}>
            Export CSV
          </button>
          <button className="btn small" onClick={() => void exportAs("jsonl")}>
            Export JSON lines
          </button>
        </div>
      </header>
      <FormError error={exportError} />
      <div className="toolbar wrap">
        <select aria-label="Action" value={filters.action} onChange={(e) => set({ action: e.target.value })}>
          <option value="">Every action</option>
          {ACTIONS.map(([group, actions]) => (
            <optgroup key={group} label={group}>
              {actions.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
        <div className="actor-filter">
          {filters.actor ? (
            <button className="btn small active" onClick={() => set({ actor: "" })} aria-label="Clear the person filter">
              By <ActorName id={filters.actor} /> ✕
            </button>
          ) : (
            <>
              <input type="search" placeholder="By person…" aria-label="Filter by person" value={actorText} onChange={(e) => setActorText(e.target.value)} />
              {actorText.trim().length > 1 && actorMatch.data && actorMatch.data.items.length > 0 ? (
                <ul className="suggestions">
                  {actorMatch.data.items.map((u) => (
                    <li key={u.id}>
                      <button
                        onClick={() => {
                          set({ actor: u.id });
                          setActorText("");
                        }}
                      >
                        {u.display_name || u.username} <span className="muted">@{u.username}</span>
                      </button>
                    </li>
                  ))}
                </ul>
              ) : null}
            </>
          )}
        </div>
        {filters.target ? (
          <button className="btn small active" onClick={() => set({ target: "" })} aria-label="Clear the target filter">
            About {targetName(filters.target)} ✕
          </button>
        ) : null}
        <label className="inline small">
          From <input type="date" value={filters.from} onChange={(e) => set({ from: e.target.value })} />
        </label>
        <label className="inline small">
          To <input type="date" value={filters.to} onChange={(e) => set({ to: e.target.value })} />
        </label>
      </div>
      <div className="table-wrap card flush">
        <table className="admin-table audit-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th className="hide-narrow">Target</th>
              <th className="hide-narrow">From</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <td className="nowrap">{dateTime(r.created_at)}</td>
                <td>{r.actor_id ? <ActorName id={r.actor_id} link /> : <span className="muted">system</span>}</td>
                <td>
                  <code className="action-code">{r.action}</code>
                  <Details details={r.details} />
                </td>
                <td className="hide-narrow">
                  {r.target_id ? (
                    <button className="link-btn target-btn" title="Only entries about this" onClick={() => set({ target: r.target_id as string })}>
                      {r.target_type === "user" ? <ActorName id={r.target_id} /> : `${r.target_type ?? "item"} ${r.target_id.slice(0, 8)}`}
                    </button>
                  ) : r.target_type ? (
                    <span className="muted small">{r.target_type}</span>
                  ) : null}
                </td>
                <td className="hide-narrow muted small">{r.ip ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {log.isSuccess && rows.length === 0 ? <p className="empty-row muted">Nothing recorded matches these filters.</p> : null}
      </div>
      <div ref={end} className="scroll-end muted small">
        {log.isFetchingNextPage ? "Loading older entries…" : log.hasNextPage ? "" : rows.length > 0 ? "The beginning of the log." : ""}
      </div>
    </>
  );
}

function ActorName({ id, link = false }: { id: string; link?: boolean }) {
  const user = useUser(id);
  const name = user.data ? user.data.display_name || user.data.username : id.slice(0, 8);
  return link ? <Link href={`/admin/people/${id}`}>{name}</Link> : <>{name}</>;
}

/** The few details worth a glance (a reason, a role), without dumping JSON. */
function Details({ details }: { details: unknown }) {
  if (!details || typeof details !== "object") return null;
  const d = details as Record<string, unknown>;
  const parts = ["reason", "role", "from", "to", "pattern", "action", "login"].filter((k) => typeof d[k] === "string" || typeof d[k] === "number").map((k) => `${k}: ${String(d[k])}`);
  if (parts.length === 0) return null;
  return <div className="muted small audit-details">{parts.join(" · ")}</div>;
}
