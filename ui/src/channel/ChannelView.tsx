import { useCallback, useEffect, useRef, useState } from "react";
import { Icon } from "../components/Icon";
import { api, call, ApiError, type Conversation } from "../api/client";
import { lastSeq, receive } from "../lib/timeline";
import { post } from "./actions";
import { ThreadPanel } from "./ThreadPanel";
import { ThreadOpener } from "./threadContext";
import { timelines, useTimeline } from "../store/timelines";
import { keys, patchConversation, useConversation, useConversationTitle, useMe } from "../store/data";
import { realtime } from "../realtime/socket";
import { setActiveConversation, useTyping } from "../realtime/live";
import { MessageList } from "./MessageList";
import { Composer } from "./Composer";
import { MembersPanel } from "./MembersPanel";
import { PresenceDot, useDisplayName } from "../components/Avatar";
import { PinsPanel } from "./PinsPanel";
import { FilesPanel } from "../files/FilesPanel";
import { LinksContext, useWorkspaceLinks } from "./links";
import { useLocation, useSearch } from "wouter";
import { SearchPanel } from "../search/SearchPanel";
import { queryClient } from "../queryClient";

const PAGE = 50;

async function loadLatest(channelId: string) {
  const page = await call(api.GET("/channels/{id}/messages", { params: { path: { id: channelId }, query: { limit: PAGE } } }));
  timelines.update(channelId, (t) => ({ ...receive(t, page.items), loaded: true, hasOlder: t.loaded ? t.hasOlder : page.items.length === PAGE }));
}

/** How deep into the history a link to a message looks before giving up (pages of PAGE). */
const MAX_FOCUS_PAGES = 40;

export function ChannelView({
  ws,
  channelId,
  onMenu,
  search,
  onSearch,
}: {
  ws: string;
  channelId: string;
  onMenu: () => void;
  /** The search panel's query while it is open (it stays open across conversations). */
  search: string | null;
  onSearch: (q: string | null) => void;
}) {
  const { data: me } = useMe();
  const conv = useConversation(channelId);
  const timeline = useTimeline(channelId);
  const [error, setError] = useState<ApiError | null>(null);
  const [panel, setPanel] = useState<null | "members" | "pins" | "files" | { thread: string }>(null);
  const [dropped, setDropped] = useState<{ files: File[]; n: number }>({ files: [], n: 0 });
  const [dragging, setDragging] = useState(false);
  const [menu, setMenu] = useState(false);
  const links = useWorkspaceLinks(ws);
  const [, navigate] = useLocation();
  const typing = useTyping(channelId, me?.id);
  // The read marker when the conversation was opened (or when the list arrived, on a direct
  // link): the "new messages" line goes after it, and stays there while the channel is open.
  const [newAfter, setNewAfter] = useState(() => conv?.last_read_seq ?? null);
  const markerTaken = useRef(conv !== undefined);
  useEffect(() => {
    if (!markerTaken.current && conv) {
      markerTaken.current = true;
      setNewAfter(conv.last_read_seq ?? null);
    }
  }, [conv]);
  const { title, partner, partnerId } = useConversationTitle(conv, me?.id);

  useEffect(() => {
    localStorage.setItem(`colink:last:${ws}`, channelId);
    setActiveConversation(channelId);
    return () => setActiveConversation(null);
  }, [ws, channelId]);

  // Load the newest page, then follow the conversation live from the last seq held.
  useEffect(() => {
    let stop: (() => void) | undefined;
    let cancelled = false;
    const start = async () => {
      try {
        if (!timelines.get(channelId).loaded) await loadLatest(channelId);
        if (cancelled) return;
        stop = realtime.watch(
          channelId,
          () => lastSeq(timelines.get(channelId)),
          () => !!queryClient.getQueryData<Conversation[]>(keys.conversations)?.some((c) => c.id === channelId),
        );
      } catch (e) {
        if (!cancelled) setError(e instanceof ApiError ? e : new ApiError(0, "unknown", String(e)));
      }
    };
    void start();
    const offResync = realtime.on((f) => {
      if (f.type === "error" && f.code === "resync") void loadLatest(channelId);
    });
    return () => {
      cancelled = true;
      stop?.();
      offResync();
    };
  }, [channelId]);

  const loadOlder = useCallback(async () => {
    const t = timelines.get(channelId);
    const first = t.messages[0];
    if (!t.hasOlder || !first) return;
    const page = await call(api.GET("/channels/{id}/messages", { params: { path: { id: channelId }, query: { before: first.seq, limit: PAGE } } }));
    timelines.update(channelId, (x) => ({ ...receive(x, page.items), hasOlder: page.items.length === PAGE }));
  }, [channelId]);

  // `?m=<id>&seq=<n>[&thread=<root>]` (from search): load back to that message and show it; a
  // reply opens its thread.
  const params = new URLSearchParams(useSearch());
  const focusId = params.get("m");
  const focusSeq = Number(params.get("seq") ?? "0");
  const focusThread = params.get("thread");
  useEffect(() => {
    if (focusThread) {
      onSearch(null);
      setPanel({ thread: focusThread });
    }
  }, [focusThread, onSearch]);
  useEffect(() => {
    if (!focusId || focusThread || !(focusSeq > 0)) return;
    let cancelled = false;
    void (async () => {
      for (let i = 0; i < MAX_FOCUS_PAGES && !cancelled; i++) {
        const t = timelines.get(channelId);
        if (!t.loaded) await loadLatest(channelId);
        const now = timelines.get(channelId);
        const first = now.messages[0];
        if (!now.hasOlder || (first && first.seq <= focusSeq)) return;
        await loadOlder();
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [channelId, focusId, focusSeq, focusThread, loadOlder]);

  // Move the read marker when the newest message is on screen.
  const marked = useRef(0);
  const markRead = useCallback(() => {
    const seq = lastSeq(timelines.get(channelId));
    if (seq === 0 || seq <= marked.current || document.visibilityState !== "visible") return;
    marked.current = seq;
    patchConversation(channelId, (c) => ({ ...c, last_read_seq: Math.max(c.last_read_seq ?? 0, seq), unread_count: 0, mention_count: 0 }));
    void call(api.POST("/channels/{id}/read", { params: { path: { id: channelId } }, body: { seq } })).catch(() => {
      marked.current = 0;
    });
  }, [channelId]);
  useEffect(() => {
    const onVisible = () => document.visibilityState === "visible" && markRead();
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [markRead]);

  // One side panel at a time: opening another closes the search, and the reverse.
  useEffect(() => {
    if (panel !== null) onSearch(null);
  }, [panel, onSearch]);
  useEffect(() => {
    if (search !== null) setPanel(null);
  }, [search]);

  const icon = conv?.kind === "public" ? "hash" : conv?.kind === "private" ? "lock" : null;
  const readOnly = !!conv?.archived_at;

  return (
    <LinksContext.Provider value={links}>
    <ThreadOpener.Provider value={(rootId) => setPanel({ thread: rootId })}>
    <div className={panel || search !== null ? "conversation with-panel" : "conversation"}>
      <section
        className={dragging ? "channel dragging" : "channel"}
        aria-label={title ? `Conversation ${title}` : "Conversation"}
        onDragOver={(e) => {
          if (readOnly || !e.dataTransfer.types.includes("Files")) return;
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={(e) => {
          if (e.currentTarget === e.target) setDragging(false);
        }}
        onDrop={(e) => {
          if (readOnly || e.dataTransfer.files.length === 0) return;
          e.preventDefault();
          setDragging(false);
          const files = Array.from(e.dataTransfer.files);
          setDropped((d) => ({ files, n: d.n + 1 }));
        }}
      >
        {dragging ? (
          <div className="drop-hint" aria-hidden="true">
            <Icon name="clip" size={28} />
            Drop to attach to {title ? `${icon === "hash" ? "#" : ""}${title}` : "the conversation"}
          </div>
        ) : null}
        <header className="channel-head">
          <button className="icon-btn menu-btn" aria-label="Open the sidebar" onClick={onMenu}>
            <Icon name="menu" size={20} />
          </button>
          <div className="channel-title">
            <h1>
              {icon ? <Icon name={icon} className="channel-icon" /> : partnerId ? <PresenceDot userId={partnerId} fallback={partner?.presence} /> : null}
              <span className="channel-name">{title}</span>
            </h1>
            {conv?.topic || conv?.description ? <p className="topic">{conv.topic || conv.description}</p> : null}
          </div>
          <button className={search !== null ? "btn small active" : "btn small"} onClick={() => onSearch(search === null ? "" : null)} aria-pressed={search !== null} aria-label="Search messages" title="Search messages (Ctrl+Shift+F)">
            <Icon name="search" size={16} />
          </button>
          <button className={panel === "files" ? "btn small active" : "btn small"} onClick={() => setPanel(panel === "files" ? null : "files")} aria-pressed={panel === "files"} aria-label="Files" title="Files">
            <Icon name="file" size={16} />
          </button>
          <button className={panel === "pins" ? "btn small active" : "btn small"} onClick={() => setPanel(panel === "pins" ? null : "pins")} aria-pressed={panel === "pins"} aria-label="Pinned messages" title="Pinned messages">
            <Icon name="pin" size={16} />
          </button>
          {conv && conv.kind !== "dm" ? (
            <button className={panel === "members" ? "btn small active" : "btn small"} onClick={() => setPanel(panel === "members" ? null : "members")} aria-pressed={panel === "members"} aria-label={`Members: ${conv.member_count}`}>
              <Icon name="users" size={16} /> {conv.member_count}
            </button>
          ) : null}
          {conv && (conv.kind === "public" || conv.kind === "private") ? (
            <div className="head-menu">
              <button className="icon-btn" aria-label="Channel options" aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
                <Icon name="more" />
              </button>
              {menu ? (
                <div className="menu right" role="menu">
                  <button
                    role="menuitem"
                    className="menu-item danger"
                    onClick={async () => {
                      setMenu(false);
                      if (conv.kind === "private" && !confirm("Leave this private channel? You will need someone to add you back.")) return;
                      await call(api.POST("/channels/{id}/leave", { params: { path: { id: channelId } } }));
                      await queryClient.invalidateQueries({ queryKey: keys.conversations });
                      localStorage.removeItem(`colink:last:${ws}`);
                      navigate(`/w/${ws}`);
                    }}
                  >
                    Leave #{conv.name}
                  </button>
                </div>
              ) : null}
            </div>
          ) : null}
        </header>
        {error ? (
          <div className="empty-state" role="alert">
            <h2>{error.status === 403 || error.status === 404 ? "You can't open this conversation" : "Couldn't load messages"}</h2>
            <p>{error.message}</p>
          </div>
        ) : (
          <MessageList
            channelId={channelId}
            timeline={timeline}
            me={me}
            newAfter={newAfter}
            onLoadOlder={loadOlder}
            onAtBottom={markRead}
            intro={conv ? <Intro title={title} kind={conv.kind} /> : null}
            focusId={focusThread ? null : focusId}
          />
        )}
        <div className="typing" aria-live="polite">
          <TypingLine ids={typing} />
        </div>
        {readOnly ? (
          <div className="archived-note">This channel is archived: you can read it, but not post.</div>
        ) : (
          <Composer channelId={channelId} ws={ws} placeholder={title ? `Message ${icon === "hash" ? "#" : ""}${title}` : "Message"} onSend={(text, files) => post(channelId, text, null, files)} dropped={dropped} />
        )}
      </section>
      {search !== null ? <SearchPanel ws={ws} query={search} onSubmit={(q) => onSearch(q)} onClose={() => onSearch(null)} /> : null}
      {panel === "members" ? <MembersPanel channelId={channelId} onClose={() => setPanel(null)} /> : null}
      {panel === "pins" ? <PinsPanel channelId={channelId} me={me} onClose={() => setPanel(null)} /> : null}
      {panel === "files" ? <FilesPanel channelId={channelId} onClose={() => setPanel(null)} /> : null}
      {panel && typeof panel === "object" ? <ThreadPanel key={panel.thread} rootId={panel.thread} channelId={channelId} ws={ws} me={me} onClose={() => setPanel(null)} /> : null}
    </div>
    </ThreadOpener.Provider>
    </LinksContext.Provider>
  );
}

function Who({ id }: { id: string }) {
  return <b>{useDisplayName(id)}</b>;
}

function TypingLine({ ids }: { ids: string[] }) {
  const [a, b] = ids;
  if (!a) return null;
  if (ids.length > 2) return <>Several people are typing…</>;
  return b ? (
    <>
      <Who id={a} /> and <Who id={b} /> are typing…
    </>
  ) : (
    <>
      <Who id={a} /> is typing…
    </>
  );
}

function Intro({ title, kind }: { title: string; kind: string }) {
  return (
    <div className="intro">
      <h2>{kind === "public" || kind === "private" ? `Welcome to #${title}` : title}</h2>
      <p className="muted">
        {kind === "public" || kind === "private" ? "This is the very beginning of the channel." : "This is the beginning of your conversation."}
      </p>
    </div>
  );
}
