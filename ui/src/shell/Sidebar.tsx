import { useEffect, useState } from "react";
import { Icon } from "../components/Icon";
import { Link, useLocation } from "wouter";
import type { Conversation } from "../api/client";
import { session } from "../api/session";
import { Avatar, PresenceDot } from "../components/Avatar";
import { useConversationTitle, useConversations, useMe, useWorkspaces } from "../store/data";
import { BrowseChannels, CreateChannel, CreateWorkspace, InvitePeople, NewDm } from "./Dialogs";
import { realtime } from "../realtime/socket";
import { seedPresence, usePresence } from "../realtime/live";

type Open = null | "browse" | "create" | "dm" | "invite" | "menu" | "workspaces" | "new-workspace";

export function Sidebar({ ws, active, onSwitcher }: { ws: string; active: string; onSwitcher: () => void }) {
  const { data: me } = useMe();
  const { data: convs } = useConversations();
  const { data: workspaces } = useWorkspaces();
  const [open, setOpen] = useState<Open>(null);
  const workspace = workspaces?.find((w) => w.id === ws);
  const inWs = (convs ?? []).filter((c) => c.workspace_id === ws || (!c.workspace_id && (c.kind === "dm" || c.kind === "group_dm")));
  const channels = inWs.filter((c) => c.kind === "public" || c.kind === "private").sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
  const dms = inWs
    .filter((c) => c.kind === "dm" || c.kind === "group_dm")
    .sort((a, b) => Date.parse(b.last_message_at ?? b.created_at) - Date.parse(a.last_message_at ?? a.created_at));
  useEffect(() => localStorage.setItem("colink:last-ws", ws), [ws]);

  return (
    <nav className="sidebar" aria-label="Conversations">
      <div className="sidebar-head">
        <button className="ws-button" aria-haspopup="menu" aria-expanded={open === "workspaces"} onClick={() => setOpen(open === "workspaces" ? null : "workspaces")}>
          <span className="ws-name">{workspace?.name ?? "Workspace"}</span>
          <Icon name="chevron" size={16} />
        </button>
        {open === "workspaces" ? (
          <div className="menu" role="menu">
            {workspaces?.map((w) => (
              <Link key={w.id} href={`/w/${w.id}`} role="menuitem" className={w.id === ws ? "menu-item current" : "menu-item"} onClick={() => setOpen(null)}>
                {w.name}
              </Link>
            ))}
            <hr />
            <button role="menuitem" className="menu-item" onClick={() => setOpen("invite")}>
              Invite people to {workspace?.name ?? "this workspace"}
            </button>
            {me?.role === "owner" || me?.role === "admin" ? (
              <button role="menuitem" className="menu-item" onClick={() => setOpen("new-workspace")}>
                Create a workspace
              </button>
            ) : null}
          </div>
        ) : null}
      </div>
      <button className="jump" onClick={onSwitcher}>
        <span>Jump to…</span>
        <kbd>Ctrl K</kbd>
      </button>
      <div className="sidebar-scroll">
        <Section title="Channels" onAdd={() => setOpen("create")} addLabel="Create a channel">
          <ul className="side-list">
            {channels.map((c) => (
              <Item key={c.id} c={c} ws={ws} active={c.id === active} me={me?.id} />
            ))}
          </ul>
          <button className="side-item subtle" onClick={() => setOpen("browse")}>
            <span className="side-icon" aria-hidden="true">
              <Icon name="plus" size={16} />
            </span>
            Browse channels
          </button>
        </Section>
        <Section title="Direct messages" onAdd={() => setOpen("dm")} addLabel="New message">
          <ul className="side-list">
            {dms.map((c) => (
              <Item key={c.id} c={c} ws={ws} active={c.id === active} me={me?.id} />
            ))}
          </ul>
          <button className="side-item subtle" onClick={() => setOpen("invite")}>
            <span className="side-icon" aria-hidden="true">
              <Icon name="plus" size={16} />
            </span>
            Invite people
          </button>
        </Section>
      </div>
      {me ? (
        <div className="sidebar-foot">
          <button className="me-button" aria-haspopup="menu" aria-expanded={open === "menu"} onClick={() => setOpen(open === "menu" ? null : "menu")}>
            <Avatar userId={me.id} size={28} showPresence />
            <span className="me-name">
              {me.display_name || me.username}
              <span className="sr-only">, account menu</span>
            </span>
            {me.status?.emoji ? <span title={me.status.text}>{me.status.emoji}</span> : null}
          </button>
          {open === "menu" ? <ProfileMenu onClose={() => setOpen(null)} /> : null}
        </div>
      ) : null}
      {open === "browse" ? <BrowseChannels ws={ws} onClose={() => setOpen(null)} /> : null}
      {open === "create" ? <CreateChannel ws={ws} onClose={() => setOpen(null)} /> : null}
      {open === "dm" ? <NewDm ws={ws} onClose={() => setOpen(null)} /> : null}
      {open === "invite" ? <InvitePeople ws={ws} onClose={() => setOpen(null)} /> : null}
      {open === "new-workspace" ? <CreateWorkspace onClose={() => setOpen(null)} /> : null}
    </nav>
  );
}

function Section({ title, onAdd, addLabel, children }: { title: string; onAdd: () => void; addLabel: string; children: React.ReactNode }) {
  const [collapsed, setCollapsed] = useState(false);
  return (
    <section className="side-section">
      <div className="side-section-head">
        <button className="side-toggle" aria-expanded={!collapsed} onClick={() => setCollapsed(!collapsed)}>
          <Icon name="chevron" size={14} className={collapsed ? "caret closed" : "caret"} />
          {title}
        </button>
        <button className="icon-btn small" aria-label={addLabel} title={addLabel} onClick={onAdd}>
          <Icon name="plus" size={16} />
        </button>
      </div>
      {collapsed ? null : children}
    </section>
  );
}

function Item({ c, ws, active, me }: { c: Conversation; ws: string; active: boolean; me: string | undefined }) {
  const { title, partner, partnerId } = useConversationTitle(c, me);
  const unread = (c.unread_count ?? 0) > 0 && !active;
  // Direct messages count every unread message, as mentions do in channels.
  const direct = c.kind === "dm" || c.kind === "group_dm";
  const mentions = active ? 0 : (direct ? c.unread_count : c.mention_count) ?? 0;
  return (
    <li>
    <Link
      href={`/w/${ws}/c/${c.id}`}
      className={`side-item${active ? " active" : ""}${unread ? " unread" : ""}`}
      aria-current={active ? "page" : undefined}
    >
      <span className="side-icon" aria-hidden="true">
        {c.kind === "public" ? <Icon name="hash" size={16} /> : c.kind === "private" ? <Icon name="lock" size={16} /> : partnerId ? <PresenceDot userId={partnerId} fallback={partner?.presence} /> : <Icon name="users" size={16} />}
      </span>
      <span className="side-label">{title}</span>
      {mentions > 0 ? (
        <span className="badge" aria-label={direct ? `${mentions} unread` : `${mentions} mentions`}>
          {mentions > 99 ? "99+" : mentions}
        </span>
      ) : null}
    </Link>
    </li>
  );
}

function ProfileMenu({ onClose }: { onClose: () => void }) {
  const [, navigate] = useLocation();
  const { data: me } = useMe();
  const live = usePresence(me?.id);
  const away = (live ?? me?.presence) === "away";
  const setAway = (a: boolean) => me && seedPresence(me.id, a ? "away" : "online");
  return (
    <div className="menu up" role="menu">
      <button role="menuitem" className="menu-item" onClick={() => { onClose(); navigate("/settings/profile"); }}>
        Profile & status
      </button>
      <button role="menuitem" className="menu-item" onClick={() => { onClose(); navigate("/settings/security"); }}>
        Security & sessions
      </button>
      {me?.role === "owner" || me?.role === "admin" ? (
        <button role="menuitem" className="menu-item" onClick={() => { onClose(); navigate("/admin"); }}>
          Admin console
        </button>
      ) : null}
      <button role="menuitem" className="menu-item" onClick={() => { onClose(); realtime.presence(away ? "online" : "away"); setAway(!away); }}>
        {away ? "Set yourself as active" : "Set yourself as away"}
      </button>
      <hr />
      <button role="menuitem" className="menu-item danger" onClick={() => void session.signOut()}>
        Sign out
      </button>
    </div>
  );
}
