import { useState } from "react";
import { Icon } from "../components/Icon";
import { useQuery } from "@tanstack/react-query";
import { useLocation } from "wouter";
import { api, call, type User } from "../api/client";
import { Dialog } from "../components/Dialog";
import { Field, FormError, useSubmit } from "../components/Form";
import { queryClient } from "../queryClient";
import { keys, useMe } from "../store/data";
import { PeopleList, usePeopleSearch } from "../components/PeoplePicker";

export function BrowseChannels({ ws, onClose }: { ws: string; onClose: () => void }) {
  const [, navigate] = useLocation();
  const [q, setQ] = useState("");
  const list = useQuery({
    queryKey: keys.browse(ws),
    queryFn: async () => (await call(api.GET("/channels", { params: { query: { workspace_id: ws, limit: 200 } } }))).items,
  });
  const [joining, setJoining] = useState<string | null>(null);
  const open = async (id: string, member: boolean) => {
    if (!member) {
      setJoining(id);
      try {
        await call(api.POST("/channels/{id}/join", { params: { path: { id } } }));
        await queryClient.invalidateQueries({ queryKey: keys.conversations });
      } finally {
        setJoining(null);
      }
    }
    onClose();
    navigate(`/w/${ws}/c/${id}`);
  };
  const shown = (list.data ?? []).filter((c) => !q || (c.name ?? "").includes(q.toLowerCase()) || (c.description ?? "").toLowerCase().includes(q.toLowerCase()));
  return (
    <Dialog title="Browse channels" onClose={onClose} wide>
      <input className="search" type="search" placeholder="Search channels" aria-label="Search channels" autoFocus value={q} onChange={(e) => setQ(e.target.value)} />
      <ul className="pick-list" aria-label="Channels">
        {shown.map((c) => (
          <li key={c.id}>
            <button className="pick" onClick={() => void open(c.id, !!c.is_member)} disabled={joining === c.id}>
              <span className="pick-main">
                <b>
                  <Icon name={c.is_private ? "lock" : "hash"} size={14} /> {c.name}
                </b>
                <span className="muted">
                  {c.member_count} {c.member_count === 1 ? "member" : "members"}
                  {c.description ? ` · ${c.description}` : ""}
                </span>
              </span>
              <span className={c.is_member ? "tag" : "btn small"}>{c.is_member ? "Joined" : joining === c.id ? "Joining…" : "Join"}</span>
            </button>
          </li>
        ))}
        {list.data && shown.length === 0 ? <li className="muted pad">No channel matches “{q}”.</li> : null}
      </ul>
    </Dialog>
  );
}

export function CreateChannel({ ws, onClose }: { ws: string; onClose: () => void }) {
  const [, navigate] = useLocation();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [priv, setPriv] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    const c = await call(api.POST("/channels", { body: { name: name.trim(), description: description.trim() || null, is_private: priv, workspace_id: ws } }));
    await queryClient.invalidateQueries({ queryKey: keys.conversations });
    onClose();
    navigate(`/w/${ws}/c/${c.id}`);
  });
  return (
    <Dialog title="Create a channel" onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <Field
          label="Name"
          placeholder="e.g. plan-budget"
          autoFocus
          value={name}
          onChange={(e) => setName(e.target.value.toLowerCase().replace(/\s+/g, "-"))}
          error={error?.field("name")}
          hint="Lowercase, without spaces or periods."
        />
        <Field label="Description" placeholder="What is this channel about?" value={description} onChange={(e) => setDescription(e.target.value)} error={error?.field("description")} />
        <label className="check">
          <input type="checkbox" checked={priv} onChange={(e) => setPriv(e.target.checked)} />
          <span>
            <b>Make private</b>
            <span className="muted"> — only invited people can see and join it</span>
          </span>
        </label>
        <FormError error={error} />
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn primary" disabled={busy || !name}>
            {busy ? "Creating…" : "Create"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function NewDm({ ws, onClose }: { ws: string; onClose: () => void }) {
  const [, navigate] = useLocation();
  const { data: me } = useMe();
  const [q, setQ] = useState("");
  const [picked, setPicked] = useState<User[]>([]);
  const people = usePeopleSearch(q);
  const { busy, error, submit } = useSubmit(async () => {
    const c = await call(api.POST("/dms", { body: { participant_ids: picked.map((p) => p.id), workspace_id: ws } }));
    await queryClient.invalidateQueries({ queryKey: keys.conversations });
    onClose();
    navigate(`/w/${ws}/c/${c.id}`);
  });
  const toggle = (u: User) => setPicked((p) => (p.some((x) => x.id === u.id) ? p.filter((x) => x.id !== u.id) : [...p, u]));
  return (
    <Dialog title="New message" onClose={onClose}>
      <div className="chips">
        {picked.map((u) => (
          <button key={u.id} className="chip" onClick={() => toggle(u)} aria-label={`Remove ${u.username}`}>
            {u.display_name || u.username} <Icon name="close" size={12} />
          </button>
        ))}
      </div>
      <input className="search" type="search" placeholder="Find people by name" aria-label="Find people" autoFocus value={q} onChange={(e) => setQ(e.target.value)} />
      <PeopleList people={(people.data ?? []).filter((u) => u.id !== me?.id)} selected={(u) => picked.some((p) => p.id === u.id)} onPick={toggle} />
      <FormError error={error} />
      <div className="dialog-actions">
        <button className="btn primary" disabled={busy || picked.length === 0} onClick={() => void submit()}>
          {picked.length > 1 ? "Start group conversation" : "Open conversation"}
        </button>
      </div>
    </Dialog>
  );
}

export function InvitePeople({ ws, onClose }: { ws: string; onClose: () => void }) {
  const [url, setUrl] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    const inv = await call(api.POST("/workspaces/{id}/invites", { params: { path: { id: ws } }, body: { expires_in_hours: 24 * 7 } }));
    setUrl(inv.url);
  });
  return (
    <Dialog title="Invite people" onClose={onClose}>
      <p className="muted">Anyone with the link can join this workspace for the next 7 days.</p>
      {url ? (
        <div className="copy-row">
          <input readOnly value={url} aria-label="Invite link" onFocus={(e) => e.target.select()} />
          <button
            className="btn primary"
            onClick={() => {
              void navigator.clipboard?.writeText(url).then(() => setCopied(true));
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
        </div>
      ) : (
        <button className="btn primary" onClick={() => void submit()} disabled={busy}>
          {busy ? "Creating…" : "Create invite link"}
        </button>
      )}
      <FormError error={error} />
    </Dialog>
  );
}

export function CreateWorkspace({ onClose }: { onClose: () => void }) {
  const [, navigate] = useLocation();
  const [name, setName] = useState("");
  const { busy, error, submit } = useSubmit(async () => {
    const w = await call(api.POST("/workspaces", { body: { name: name.trim() } }));
    await queryClient.invalidateQueries({ queryKey: keys.workspaces });
    await queryClient.invalidateQueries({ queryKey: keys.conversations });
    onClose();
    navigate(`/w/${w.id}`);
  });
  return (
    <Dialog title="Create a workspace" onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <Field label="Workspace name" placeholder="e.g. Acme Research" autoFocus value={name} onChange={(e) => setName(e.target.value)} error={error?.field("name")} hint="It gets its own #general, channels and invite links." />
        <FormError error={error} />
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn primary" disabled={busy || !name.trim()}>
            {busy ? "Creating…" : "Create"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
