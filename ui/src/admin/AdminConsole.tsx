import { Link, useLocation } from "wouter";
import { useMe } from "../store/data";
import { Splash } from "../components/Splash";
import { Icon, type IconName } from "../components/Icon";
import { Overview } from "./Overview";
import { People, Person } from "./People";
import { Bots, Invites } from "./Access";
import { Moderation } from "./Moderation";
import { Audit } from "./Audit";
import { Channels } from "./Channels";
import { SettingsPage } from "./Settings";
import "./admin.css";

const SECTIONS: ReadonlyArray<readonly [string, string, IconName]> = [
  ["overview", "Overview", "chart"],
  ["people", "People", "users"],
  ["channels", "Channels", "hash"],
  ["moderation", "Moderation", "shield"],
  ["audit", "Audit log", "list"],
  ["settings", "Settings", "settings"],
];

export function isAdmin(role: string | undefined): boolean {
  return role === "owner" || role === "admin";
}

/**
 * The admin console (`/admin/<section>/<id>`): only for owners and admins. Everyone else gets
 * the 403 page and makes no admin request (the server refuses them anyway).
 */
export default function AdminConsole({ section, id }: { section: string; id: string | undefined }) {
  const me = useMe();
  const [, navigate] = useLocation();
  if (!me.data) return <Splash />;
  if (!isAdmin(me.data.role)) return <Forbidden />;
  return (
    <div className="admin">
      <nav className="admin-nav" aria-label="Admin console">
        <div className="admin-brand">
          <span>Admin console</span>
        </div>
        {SECTIONS.map(([key, label, icon]) => (
          <Link key={key} href={`/admin/${key}`} className={key === section ? "side-item active" : "side-item"} aria-current={key === section ? "page" : undefined}>
            <Icon name={icon} />
            <span>{label}</span>
          </Link>
        ))}
        <button className="btn small admin-back" onClick={() => navigate("/")}>
          ← Back to chat
        </button>
      </nav>
      <main className="admin-main">
        {section === "people" && id && id !== "invites" && id !== "bots" ? (
          <Person id={id} />
        ) : section === "people" ? (
          <PeopleSection tab={id === "invites" || id === "bots" ? id : "people"} />
        ) : section === "moderation" ? (
          <Moderation tab={id === "rules" ? "rules" : "queue"} />
        ) : section === "audit" ? (
          <Audit />
        ) : section === "channels" ? (
          <Channels />
        ) : section === "settings" ? (
          <SettingsPage />
        ) : (
          <Overview />
        )}
      </main>
    </div>
  );
}

function PeopleSection({ tab }: { tab: "people" | "invites" | "bots" }) {
  const tabs = [
    ["people", "/admin/people", "People"],
    ["invites", "/admin/people/invites", "Invite links"],
    ["bots", "/admin/people/bots", "Bots"],
  ] as const;
  return (
    <>
      <header className="admin-head">
        <h1>{tabs.find(([k]) => k === tab)?.[2]}</h1>
        <nav className="tabs" aria-label="People">
          {tabs.map(([k, href, label]) => (
            <Link key={k} href={href} className={k === tab ? "tab active" : "tab"} aria-current={k === tab ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
      </header>
      {tab === "invites" ? <Invites /> : tab === "bots" ? <Bots /> : <People />}
    </>
  );
}

function Forbidden() {
  return (
    <main className="auth">
      <div className="auth-card forbidden">
        <div className="forbidden-code">403</div>
        <h1>Admins only</h1>
        <p className="auth-subtitle">The admin console is for the workspace's owners and admins. Ask one of them if you need something changed.</p>
        <Link href="/" className="btn primary wide">
          Back to chat
        </Link>
      </div>
    </main>
  );
}
