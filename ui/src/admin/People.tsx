import { useState } from "react";
import { useDebounced } from "../lib/useDebounced";
import { Link } from "wouter";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { Avatar } from "../components/Avatar";
import { Dialog } from "../components/Dialog";
import { FormError, useSubmit } from "../components/Form";
import { useMe } from "../store/data";
import { queryClient } from "../queryClient";
import { ago, dateTime } from "./format";

type AdminUser = Schemas["AdminUser"];
type Status = Schemas["StatusFilter"];
type RoleFilter = Schemas["RoleFilter"];
type Sort = Schemas["SortBy"];

/** `/admin/people`: everyone, searchable, filterable, sortable, paged. */
export function People() {
  const [text, setText] = useState("");
  const [status, setStatus] = useState<Status>("all");
  const [role, setRole] = useState<RoleFilter | "">("");
  const [sort, setSort] = useState<Sort>("username");
  const query = useDebounced(text.trim(), 250);
  const list = useInfiniteQuery({
    queryKey: ["admin", "people", query, status, role, sort],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      call(api.GET("/admin/users", { params: { query: { query: query || undefined, status, role: role || undefined, sort, cursor: pageParam, limit: 50 } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <div className="toolbar">
        <input className="grow" type="search" placeholder="Search by name, username or email" aria-label="Search people" value={text} onChange={(e) => setText(e.target.value)} />
        <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value as Status)}>
          <option value="all">Any status</option>
          <option value="active">Active</option>
          <option value="suspended">Suspended</option>
          <option value="deactivated">Deactivated</option>
        </select>
        <select aria-label="Role" value={role} onChange={(e) => setRole(e.target.value as RoleFilter | "")}>
          <option value="">Any role</option>
          <option value="owner">Owners</option>
          <option value="admin">Admins</option>
          <option value="member">Members</option>
          <option value="guest">Guests</option>
          <option value="bot">Bots</option>
        </select>
        <select aria-label="Sort by" value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
          <option value="username">Sort: name</option>
          <option value="last_active">Sort: last active</option>
        </select>
      </div>
      <div className="table-wrap card flush">
        <table className="admin-table">
          <thead>
            <tr>
              <th>Person</th>
              <th className="hide-narrow">Email</th>
              <th>Role</th>
              <th>Status</th>
              <th className="hide-narrow">2FA</th>
              <th className="hide-narrow">Last active</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((u) => (
              <tr key={u.id}>
                <td>
                  <Link href={`/admin/people/${u.id}`} className="person-cell">
                    <Avatar userId={u.id} size={28} />
                    <span>
                      <span className="person-name">{u.display_name || u.username}</span>
                      <span className="muted small"> @{u.username}</span>
                    </span>
                  </Link>
                </td>
                <td className="hide-narrow muted">{u.email}</td>
                <td>
                  <span className={`tag role-${u.role}`}>{u.role}</span>
                </td>
                <td>
                  <StatusBadge user={u} />
                </td>
                <td className="hide-narrow">{u.two_factor_enabled ? <span className="tag ok">on</span> : <span className="muted">off</span>}</td>
                <td className="hide-narrow muted" title={u.last_active_at ? dateTime(u.last_active_at) : undefined}>
                  {ago(u.last_active_at)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.isSuccess && rows.length === 0 ? <p className="empty-row muted">Nobody matches.</p> : null}
      </div>
      {list.hasNextPage ? (
        <button className="btn more-results" disabled={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
          {list.isFetchingNextPage ? "Loading…" : "Show more"}
        </button>
      ) : null}
    </>
  );
}

function StatusBadge({ user }: { user: AdminUser }) {
  if (user.deactivated) return <span className="tag plain">deactivated</span>;
  if (user.suspended) return <span className="tag danger" title={user.suspended_reason ?? undefined}>suspended</span>;
  return <span className="tag ok">active</span>;
}

/** An action on a person: what it does, said before it is done. */
type Action = {
  key: string;
  label: string;
  title: string;
  consequence: string;
  danger?: boolean;
  reason?: boolean;
  run: (reason: string) => Promise<unknown>;
};

/** `/admin/people/<id>`: one person, their sessions, and what an admin can do to the account. */
export function Person({ id }: { id: string }) {
  const me = useMe();
  const detail = useQuery({ queryKey: ["admin", "person", id], queryFn: () => call(api.GET("/admin/users/{id}", { params: { path: { id } } })) });
  const [pending, setPending] = useState<Action | null>(null);
  const [role, setRole] = useState<Schemas["AssignableRole"] | null>(null);
  const refresh = () => Promise.all([queryClient.invalidateQueries({ queryKey: ["admin", "person", id] }), queryClient.invalidateQueries({ queryKey: ["admin", "people"] })]);
  const [ending, setEnding] = useState<string | null>(null);
  const endSession = useSubmit(async () => {
    if (!ending) return;
    await call(api.DELETE("/admin/users/{id}/sessions/{session_id}", { params: { path: { id, session_id: ending } } }));
    setEnding(null);
    await refresh();
  });
  const u = detail.data;
  if (detail.error) return <div className="form-error">{detail.error.message}</div>;
  if (!u) return null;
  const name = u.display_name || u.username;
  const self = me.data?.id === u.id;
  const path = { params: { path: { id } } };
  const actions: Action[] = [];
  if (!u.deactivated) {
    if (u.suspended)
      actions.push({ key: "unsuspend", label: "Unsuspend", title: `Unsuspend ${name}?`, consequence: `${name} can sign in again.`, run: () => call(api.POST("/admin/users/{id}/unsuspend", path)) });
    else if (!self)
      actions.push({
        key: "suspend",
        label: "Suspend…",
        title: `Suspend ${name}?`,
        consequence: `${name} is signed out everywhere at once and cannot sign in until unsuspended. Their messages stay.`,
        danger: true,
        reason: true,
        run: (reason) => call(api.POST("/admin/users/{id}/suspend", { ...path, body: { reason } })),
      });
    actions.push({
      key: "password",
      label: "Force password reset",
      title: `Force ${name} to reset their password?`,
      consequence: `Their password stops working, every session ends, and they get an email with a link to choose a new one.`,
      danger: true,
      run: () => call(api.POST("/admin/users/{id}/password-reset", path)),
    });
    if (u.two_factor_enabled)
      actions.push({
        key: "2fa",
        label: "Reset 2FA",
        title: `Reset ${name}'s two-factor authentication?`,
        consequence: `Their authenticator and recovery codes stop working and every session ends; they sign in with the password alone and can set 2FA up again.`,
        danger: true,
        run: () => call(api.POST("/admin/users/{id}/reset-2fa", path)),
      });
    if (!self)
      actions.push({
        key: "deactivate",
        label: "Deactivate…",
        title: `Deactivate ${name}?`,
        consequence: `${name} is signed out everywhere and cannot sign in; their messages stay and show them as deactivated. You can reactivate the account later.`,
        danger: true,
        run: () => call(api.DELETE("/admin/users/{id}", path)),
      });
  } else {
    actions.push({ key: "reactivate", label: "Reactivate", title: `Reactivate ${name}?`, consequence: `${name} can sign in again (with a new password if theirs was reset).`, run: () => call(api.POST("/admin/users/{id}/reactivate", path)) });
  }
  return (
    <>
      <Link href="/admin/people" className="back-link">
        ← People
      </Link>
      <div className="profile-card person-head">
        <Avatar userId={u.id} size={64} />
        <div>
          <div className="profile-name">{name}</div>
          <div className="muted">
            @{u.username} · {u.email}
          </div>
          <div className="tags">
            <span className={`tag role-${u.role}`}>{u.role}</span>
            <StatusBadge user={u} />
            {u.two_factor_enabled ? <span className="tag ok">2FA on</span> : <span className="tag plain">2FA off</span>}
          </div>
        </div>
      </div>
      {u.suspended && u.suspended_reason ? (
        <p className="notice">
          Suspended {u.suspended_at ? ago(u.suspended_at) : ""}: “{u.suspended_reason}”
        </p>
      ) : null}
      <dl className="facts card">
        <div>
          <dt>Joined</dt>
          <dd>{dateTime(u.created_at)}</dd>
        </div>
        <div>
          <dt>Last active</dt>
          <dd>{ago(u.last_active_at)}</dd>
        </div>
        {u.role === "bot" ? null : (
          <div>
            <dt>Signs in with</dt>
            <dd className="sign-in-methods">
              {u.has_password ? <span>Password</span> : null}
              {u.identities.map((i) => (
                <span key={i.provider} title={`Linked ${dateTime(i.linked_at)}`}>
                  {i.provider}
                  {i.email ? <span className="muted"> ({i.email})</span> : null}
                  <span className="muted small"> · last used {ago(i.last_login_at)}</span>
                </span>
              ))}
              {!u.has_password && u.identities.length === 0 ? <span className="muted">Nothing yet (a password reset sets a password)</span> : null}
            </dd>
          </div>
        )}
        <div>
          <dt>Role</dt>
          <dd>
            {u.role === "bot" ? (
              "bot"
            ) : (
              <select aria-label="Role" value={role ?? u.role} disabled={u.deactivated} onChange={(e) => setRole(e.target.value as Schemas["AssignableRole"])}>
                <option value="owner">Owner</option>
                <option value="admin">Admin</option>
                <option value="member">Member</option>
                <option value="guest">Guest</option>
              </select>
            )}
            {role && role !== u.role ? (
              <button
                className="btn small primary"
                onClick={() =>
                  setPending({
                    key: "role",
                    label: "Change role",
                    title: `Make ${name} ${role === "admin" || role === "owner" ? "an" : "a"} ${role}?`,
                    consequence: roleConsequence(role),
                    run: async () => {
                      await call(api.POST("/admin/users/{id}/role", { ...path, body: { role } }));
                      setRole(null);
                    },
                  })
                }
              >
                Change role…
              </button>
            ) : null}
          </dd>
        </div>
      </dl>
      <h2>Actions</h2>
      <div className="row-actions wrap">
        {actions.map((a) => (
          <button key={a.key} className={a.danger ? "btn danger" : "btn"} onClick={() => setPending(a)}>
            {a.label}
          </button>
        ))}
      </div>
      <h2>Sessions</h2>
      {u.sessions.length === 0 ? (
        <p className="muted">No one is signed in as {name}.</p>
      ) : (
        <ul className="sessions card">
          {u.sessions.map((s) => (
            <li key={s.id}>
              <span>
                Signed in {dateTime(s.started_at)}
                <span className="muted small"> · last active {ago(s.last_active_at)}</span>
              </span>
              {ending === s.id ? (
                <span className="row-actions">
                  <button className="btn small danger-solid" disabled={endSession.busy} onClick={() => void endSession.submit()}>
                    Sign out this session
                  </button>
                  <button className="btn small" onClick={() => setEnding(null)}>
                    Keep
                  </button>
                </span>
              ) : (
                <button className="btn small danger" onClick={() => setEnding(s.id)}>
                  Sign out…
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <FormError error={endSession.error} />
      {pending ? (
        <Confirm
          action={pending}
          onClose={() => setPending(null)}
          onDone={async () => {
            setPending(null);
            await refresh();
          }}
        />
      ) : null}
    </>
  );
}

function roleConsequence(role: Schemas["AssignableRole"]): string {
  switch (role) {
    case "owner":
      return "Owners can do everything, including managing other owners.";
    case "admin":
      return "Admins get the admin console: people, moderation and the audit log.";
    case "guest":
      return "Guests only see the channels they are added to. Their open connections are closed so the change applies at once.";
    default:
      return "Members lose any admin rights at once; their open connections are closed so the change applies immediately.";
  }
}

/** The confirmation every account action goes through, naming what will happen. */
function Confirm({ action, onClose, onDone }: { action: Action; onClose: () => void; onDone: () => Promise<void> }) {
  const [reason, setReason] = useState("");
  const run = useSubmit(async () => {
    await action.run(reason.trim());
    await onDone();
  });
  return (
    <Dialog title={action.title} onClose={onClose}>
      <form onSubmit={run.submit}>
        <p>{action.consequence}</p>
        {action.reason ? (
          <div className="field">
            <label htmlFor="confirm-reason">Reason (shown in the audit log and on their account)</label>
            <input id="confirm-reason" required maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />
          </div>
        ) : null}
        <FormError error={run.error} />
        <div className="row-actions end">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className={action.danger ? "btn danger-solid" : "btn primary"} disabled={run.busy || (action.reason && !reason.trim())}>
            {action.label.replace("…", "")}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
