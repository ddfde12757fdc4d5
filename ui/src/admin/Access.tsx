import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { FormError, Field, useSubmit } from "../components/Form";
import { useUser, useWorkspaces } from "../store/data";
import { queryClient } from "../queryClient";
import { ago, dateTime } from "./format";

/** A value shown once (an invite link, a bot's secret), with a copy button. */
function ShownOnce({ label, value, note }: { label: string; value: string; note: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="shown-once card">
      <label className="small" htmlFor={`once-${label}`}>
        {label}
      </label>
      <div className="copy-row">
        <input id={`once-${label}`} readOnly value={value} onFocus={(e) => e.target.select()} />
        <button
          className="btn"
          onClick={() => {
            void navigator.clipboard?.writeText(value).then(() => setCopied(true));
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <p className="muted small">{note}</p>
    </div>
  );
}

const STATE_TAG: Record<Schemas["InviteState"], string> = { active: "ok", expired: "plain", used_up: "plain", revoked: "danger" };

/** Invite links of a workspace: make one (expiry, uses), see each one's uses, revoke. */
export function Invites() {
  const workspaces = useWorkspaces();
  const [chosen, setChosen] = useState<string | null>(null);
  const ws = chosen ?? workspaces.data?.[0]?.id ?? null;
  const key = ["admin", "invites", ws];
  const list = useQuery({ queryKey: key, queryFn: () => call(api.GET("/workspaces/{id}/invites", { params: { path: { id: ws as string } } })), enabled: !!ws });
  const [hours, setHours] = useState("168");
  const [uses, setUses] = useState("");
  const [made, setMade] = useState<Schemas["Invite"] | null>(null);
  const create = useSubmit(async () => {
    if (!ws) return;
    const invite = await call(api.POST("/workspaces/{id}/invites", { params: { path: { id: ws } }, body: { expires_in_hours: Number(hours), max_uses: uses ? Number(uses) : null } }));
    setMade(invite);
    await queryClient.invalidateQueries({ queryKey: key });
  });
  const [revoking, setRevoking] = useState<string | null>(null);
  const revoke = useSubmit(async () => {
    if (!ws || !revoking) return;
    await call(api.DELETE("/workspaces/{id}/invites/{invite_id}", { params: { path: { id: ws, invite_id: revoking } } }));
    setRevoking(null);
    await queryClient.invalidateQueries({ queryKey: key });
  });
  return (
    <>
      <form className="card invite-form" onSubmit={create.submit}>
        <h2>New invite link</h2>
        <div className="rule-selects">
          {(workspaces.data?.length ?? 0) > 1 ? (
            <label>
              Workspace
              <select value={ws ?? ""} onChange={(e) => setChosen(e.target.value)}>
                {workspaces.data?.map((w) => (
                  <option key={w.id} value={w.id}>
                    {w.name}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          <label>
            Expires after
            <select value={hours} onChange={(e) => setHours(e.target.value)}>
              <option value="24">1 day</option>
              <option value="168">7 days</option>
              <option value="720">30 days</option>
              <option value="2160">90 days</option>
            </select>
          </label>
          <label>
            Can be used
            <select value={uses} onChange={(e) => setUses(e.target.value)}>
              <option value="">Any number of times</option>
              <option value="1">Once</option>
              <option value="5">5 times</option>
              <option value="25">25 times</option>
              <option value="100">100 times</option>
            </select>
          </label>
        </div>
        <FormError error={create.error} />
        <button className="btn primary" disabled={create.busy || !ws}>
          Create link
        </button>
        {made ? <ShownOnce label="Invite link" value={made.url} note={`Shown once: copy it now. It works until ${dateTime(made.expires_at)}${made.max_uses ? ` for ${made.max_uses} ${made.max_uses === 1 ? "person" : "people"}` : ""}.`} /> : null}
      </form>
      <h2>Links</h2>
      <FormError error={revoke.error} />
      <div className="table-wrap card flush">
        <table className="admin-table">
          <thead>
            <tr>
              <th>Created</th>
              <th className="hide-narrow">By</th>
              <th>Expires</th>
              <th>Used</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(list.data?.items ?? []).map((i) => (
              <tr key={i.id}>
                <td className="nowrap">{dateTime(i.created_at)}</td>
                <td className="hide-narrow">{i.created_by ? <Name id={i.created_by} /> : <span className="muted">CLI</span>}</td>
                <td className="nowrap">{dateTime(i.expires_at)}</td>
                <td>
                  {i.uses}
                  {i.max_uses ? ` of ${i.max_uses}` : ""}
                </td>
                <td>
                  <span className={`tag ${STATE_TAG[i.state]}`}>{i.state.replace("_", " ")}</span>
                </td>
                <td className="cell-actions">
                  {i.state === "active" ? (
                    revoking === i.id ? (
                      <span className="row-actions">
                        <button className="btn small danger-solid" disabled={revoke.busy} onClick={() => void revoke.submit()}>
                          Revoke: nobody can join with it
                        </button>
                        <button className="btn small" onClick={() => setRevoking(null)}>
                          Keep
                        </button>
                      </span>
                    ) : (
                      <button className="btn small danger" onClick={() => setRevoking(i.id)}>
                        Revoke…
                      </button>
                    )
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.isSuccess && list.data.items.length === 0 ? <p className="empty-row muted">No invite links yet.</p> : null}
      </div>
    </>
  );
}

function Name({ id }: { id: string }) {
  const user = useUser(id);
  return <>{user.data ? user.data.display_name || user.data.username : "…"}</>;
}

const botsKey = ["admin", "bots"];

/** Bots (API clients): make one, rotate its secret (shown once), revoke it. */
export function Bots() {
  const bots = useQuery({ queryKey: botsKey, queryFn: () => call(api.GET("/admin/clients")) });
  const [name, setName] = useState("");
  const [username, setUsername] = useState("");
  const [write, setWrite] = useState(true);
  const [secret, setSecret] = useState<{ name: string; clientId: string; secret: string } | null>(null);
  const create = useSubmit(async () => {
    const c = await call(api.POST("/admin/clients", { body: { name, username, scopes: write ? ["read", "write"] : ["read"] } }));
    setSecret({ name: c.name, clientId: c.client_id, secret: c.client_secret });
    setName("");
    setUsername("");
    await queryClient.invalidateQueries({ queryKey: botsKey });
  });
  const [confirm, setConfirm] = useState<{ id: string; what: "rotate" | "revoke" } | null>(null);
  const act = useSubmit(async () => {
    if (!confirm) return;
    const path = { params: { path: { id: confirm.id } } };
    if (confirm.what === "rotate") {
      const c = await call(api.POST("/admin/clients/{id}/rotate-secret", path));
      setSecret({ name: c.name, clientId: c.client_id, secret: c.client_secret });
    } else {
      await call(api.DELETE("/admin/clients/{id}", path));
    }
    setConfirm(null);
    await queryClient.invalidateQueries({ queryKey: botsKey });
  });
  return (
    <>
      <form className="card invite-form" onSubmit={create.submit}>
        <h2>New bot</h2>
        <div className="two-fields">
          <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} error={create.error?.field("name")} required maxLength={80} />
          <Field label="Username" value={username} onChange={(e) => setUsername(e.target.value.toLowerCase())} error={create.error?.field("username")} required hint="How people mention it." />
        </div>
        <label className="inline small">
          <input type="checkbox" checked={write} onChange={(e) => setWrite(e.target.checked)} /> It may post, react and join (without this it only reads)
        </label>
        {create.error && create.error.fieldErrors.length === 0 ? <FormError error={create.error} /> : null}
        <button className="btn primary" disabled={create.busy || !name.trim() || !username.trim()}>
          Create bot
        </button>
      </form>
      {secret ? (
        <ShownOnce label={`${secret.name}: client id ${secret.clientId}, secret`} value={secret.secret} note="Shown once: store it in the bot's configuration now. It signs in with the client credentials grant at /api/v1/auth/token." />
      ) : null}
      <h2>Bots</h2>
      <FormError error={act.error} />
      <ul className="rules">
        {(bots.data?.items ?? []).map((b) => (
          <li key={b.id} className="card">
            <div>
              <strong>{b.name}</strong> <span className="muted small">client id {b.client_id}</span>
              <div className="tags">
                {b.revoked ? <span className="tag danger">revoked</span> : <span className="tag ok">active</span>}
                {b.scopes.map((s) => (
                  <span key={s} className="tag plain">
                    {s}
                  </span>
                ))}
                <span className="muted small">made {ago(b.created_at)}</span>
              </div>
            </div>
            {b.revoked ? null : confirm?.id === b.id ? (
              <span className="row-actions wrap">
                <button className="btn small danger-solid" disabled={act.busy} onClick={() => void act.submit()}>
                  {confirm.what === "rotate" ? "New secret: the old one stops working now" : "Revoke: its tokens stop working now"}
                </button>
                <button className="btn small" onClick={() => setConfirm(null)}>
                  Cancel
                </button>
              </span>
            ) : (
              <span className="row-actions">
                <button className="btn small" onClick={() => setConfirm({ id: b.id, what: "rotate" })}>
                  Rotate secret…
                </button>
                <button className="btn small danger" onClick={() => setConfirm({ id: b.id, what: "revoke" })}>
                  Revoke…
                </button>
              </span>
            )}
          </li>
        ))}
      </ul>
      {bots.isSuccess && bots.data.items.length === 0 ? <p className="muted">No bots yet. A bot posts with its own account, through the API.</p> : null}
    </>
  );
}
