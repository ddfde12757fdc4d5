import { lazy, Suspense, useEffect, useState } from "react";
import { Redirect, Route, Switch, useLocation } from "wouter";
import { useConversations, useMe, useWorkspaces } from "../store/data";
import { startLive } from "../realtime/live";
import { Splash } from "../components/Splash";
import { Sidebar } from "./Sidebar";
import { ChannelView } from "../channel/ChannelView";
import { QuickSwitcher } from "./QuickSwitcher";
import { Settings } from "../settings/Settings";
import { NotifyBanner } from "./NotifyBanner";
import { ConnectionBanner } from "./ConnectionBanner";

/** The admin console, loaded only when opened (its charts stay out of the chat's bundle). */
const AdminConsole = lazy(() => import("../admin/AdminConsole"));

/** The signed-in app: sidebar and the open conversation; the socket lives as long as this. */
export function Shell() {
  const me = useMe();
  const meId = me.data?.id;
  useEffect(() => (meId ? startLive(meId) : undefined), [meId]);
  const [switcher, setSwitcher] = useState(false);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setSwitcher((s) => !s);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  if (!me.data) return <Splash />;
  return (
    <>
      <Switch>
        <Route path="/w/:ws/c/:channel">{(p) => <Layout ws={p.ws} channel={p.channel} onSwitcher={() => setSwitcher(true)} />}</Route>
        <Route path="/w/:ws">{(p) => <WorkspaceHome ws={p.ws} />}</Route>
        <Route path="/admin/:section?/:id?">
          {(p) => (
            <Suspense fallback={<Splash />}>
              <AdminConsole section={p.section ?? "overview"} id={p.id} />
            </Suspense>
          )}
        </Route>
        <Route path="/settings/:section?">{(p) => <Settings section={p.section ?? "profile"} />}</Route>
        <Route>
          <Home />
        </Route>
      </Switch>
      {switcher ? <QuickSwitcher onClose={() => setSwitcher(false)} /> : null}
    </>
  );
}

function Layout({ ws, channel, onSwitcher }: { ws: string; channel: string; onSwitcher: () => void }) {
  const [navOpen, setNavOpen] = useState(false);
  const [location, navigate] = useLocation();
  useEffect(() => setNavOpen(false), [location]);
  const convs = useConversations();
  const workspaces = useWorkspaces();
  // The search panel's query while it is open; it stays open as the reader opens results.
  const [search, setSearch] = useState<string | null>(null);

  // Ctrl+Shift+F (⌘⇧F): search.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === "f") {
        e.preventDefault();
        setSearch((s) => s ?? "");
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // Alt+↑ / Alt+↓: the previous / next conversation in the sidebar's order.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
      const order = [...document.querySelectorAll<HTMLAnchorElement>("nav.sidebar .side-list a")].map((a) => a.getAttribute("href"));
      const i = order.indexOf(`/w/${ws}/c/${channel}`);
      const next = order[i + (e.key === "ArrowDown" ? 1 : -1)];
      if (next) {
        e.preventDefault();
        navigate(next);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [ws, channel, navigate]);

  // The tab's title: unread conversations and mentions of this workspace, then where you are.
  useEffect(() => {
    const inWs = (convs.data ?? []).filter((c) => c.workspace_id === ws);
    const c = inWs.find((x) => x.id === channel);
    const mentions = inWs.reduce((n, x) => n + (x.id === channel ? 0 : x.kind === "dm" || x.kind === "group_dm" ? x.unread_count ?? 0 : x.mention_count ?? 0), 0);
    const unread = inWs.some((x) => x.id !== channel && (x.unread_count ?? 0) > 0);
    const where = c?.name ? `#${c.name}` : "Direct message";
    const wsName = workspaces.data?.find((w) => w.id === ws)?.name ?? "CoLink";
    document.title = `${mentions > 0 ? `(${mentions}) ` : unread ? "* " : ""}${where} · ${wsName} · CoLink`;
  }, [convs.data, workspaces.data, ws, channel]);
  return (
    <div className={navOpen ? "app nav-open" : "app"}>
      <Sidebar ws={ws} active={channel} onSwitcher={onSwitcher} />
      <div className="nav-scrim" onClick={() => setNavOpen(false)} aria-hidden="true" />
      <main className="main">
        <ConnectionBanner />
        <NotifyBanner />
        <ChannelView key={channel} ws={ws} channelId={channel} onMenu={() => setNavOpen(true)} search={search} onSearch={setSearch} />
      </main>
    </div>
  );
}

/** `/w/<id>`: open the last conversation of that workspace, else its first channel. */
function WorkspaceHome({ ws }: { ws: string }) {
  const convs = useConversations();
  if (!convs.data) return <Splash />;
  const last = localStorage.getItem(`colink:last:${ws}`);
  const inWs = convs.data.filter((c) => c.workspace_id === ws);
  const target =
    inWs.find((c) => c.id === last) ??
    inWs.find((c) => c.name === "general") ??
    [...inWs].sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""))[0];
  if (!target) return <EmptyWorkspace ws={ws} />;
  return <Redirect to={`/w/${ws}/c/${target.id}`} replace />;
}

function EmptyWorkspace({ ws }: { ws: string }) {
  return (
    <div className="app">
      <Sidebar ws={ws} active="" onSwitcher={() => undefined} />
      <main className="main empty-state">
        <h2>No conversations yet</h2>
        <p>Browse the workspace's channels or create one from the sidebar.</p>
      </main>
    </div>
  );
}

function Home() {
  const workspaces = useWorkspaces();
  if (!workspaces.data) return <Splash />;
  const last = localStorage.getItem("colink:last-ws");
  const ws = workspaces.data.find((w) => w.id === last) ?? workspaces.data[0];
  if (!ws)
    return (
      <main className="auth">
        <div className="auth-card">
          <h1>No workspace yet</h1>
          <p className="auth-subtitle">Ask your admin for an invite link to join your team's workspace.</p>
        </div>
      </main>
    );
  return <Redirect to={`/w/${ws.id}`} replace />;
}
