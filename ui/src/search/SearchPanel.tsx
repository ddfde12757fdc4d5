import { useEffect, useMemo, useRef, useState } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useLocation } from "wouter";
import { api, call, ApiError, type Schemas } from "../api/client";
import { Icon } from "../components/Icon";
import { Avatar } from "../components/Avatar";
import { useConversations } from "../store/data";
import { Highlight, complete, pendingOperator } from "./highlight";

type Hit = Schemas["MessageHit"];
type Person = Schemas["User"];

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** The query syntax, each with what a click adds to the box. */
const HELP: { shown: string; means: string; insert: string }[] = [
  { shown: '"exact phrase"', means: "words in this order", insert: '"' },
  { shown: "from:@name", means: "sent by someone", insert: "from:@" },
  { shown: "in:#channel", means: "in one channel", insert: "in:#" },
  { shown: "before:YYYY-MM-DD", means: "sent before a day", insert: "before:" },
  { shown: "after:YYYY-MM-DD", means: "sent after a day", insert: "after:" },
  { shown: "has:file", means: "with an attachment", insert: "has:file " },
];

/** Suggestions for the `in:` / `from:` word being typed. */
function useSuggestions(q: string, ws: string): { op: "in" | "from"; names: string[] } | null {
  const pending = pendingOperator(q);
  const convs = useConversations();
  const [people, setPeople] = useState<Person[]>([]);
  const prefix = pending?.op === "from" ? pending.prefix : null;
  useEffect(() => {
    if (prefix === null) return;
    let live = true;
    const t = setTimeout(() => {
      void call(api.GET("/users", { params: { query: { query: prefix || undefined, limit: 8 } } }))
        .then((r) => live && setPeople(r.items))
        .catch(() => undefined);
    }, 120);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [prefix]);
  if (!pending) return null;
  if (pending.op === "in") {
    const names = (convs.data ?? [])
      .filter((c) => c.workspace_id === ws && c.name && c.name.startsWith(pending.prefix))
      .map((c) => c.name as string)
      .sort()
      .slice(0, 8);
    return { op: "in", names };
  }
  return { op: "from", names: people.map((p) => p.username).filter((n) => n.startsWith(pending.prefix)) };
}

/**
 * Search messages: the query box with its syntax, results with highlights; a click opens the
 * message. `query` is the submitted search (kept by the layout, so the results stay while the
 * reader opens them one by one); results are cached per query.
 */
export function SearchPanel({ ws, query, onSubmit, onClose }: { ws: string; query: string; onSubmit: (q: string) => void; onClose: () => void }) {
  const [q, setQ] = useState(query);
  const [pick, setPick] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const [, navigate] = useLocation();
  const suggestions = useSuggestions(q, ws);
  const shown = useMemo(() => suggestions?.names ?? [], [suggestions]);
  const results = useInfiniteQuery({
    queryKey: ["search", query],
    enabled: query.trim() !== "",
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => call(api.GET("/search/messages", { params: { query: { q: query, cursor: pageParam ?? undefined, limit: 20 } } })),
    getNextPageParam: (last) => last.next_cursor ?? null,
    staleTime: 30_000,
    retry: (n, e) => e instanceof ApiError && e.status === 503 && n < 5,
    retryDelay: 1000,
  });
  const hits = results.data?.pages.flatMap((p) => p.items) ?? [];
  const total = results.data?.pages[0]?.total ?? 0;
  const capped = results.data?.pages[0]?.total_capped ?? false;
  const searched = query.trim() !== "" && results.data ? query : null;
  const busy = results.isFetching;
  const e = results.error;
  const error = e ? (e instanceof ApiError && e.status === 503 ? "Search is getting ready. Try again in a moment." : e instanceof ApiError ? e.message : String(e)) : null;

  useEffect(() => input.current?.focus(), []);
  useEffect(() => setPick(0), [shown.length]);
  const run = () => {
    if (q.trim()) onSubmit(q.trim());
  };

  const open = (hit: Hit) => {
    const m = hit.message;
    const params = new URLSearchParams({ m: m.id, seq: String(m.seq) });
    if (m.thread_root_id) params.set("thread", m.thread_root_id);
    navigate(`/w/${ws}/c/${m.channel_id}?${params.toString()}`);
  };

  return (
    <aside className="panel search-panel" aria-label="Search">
      <div className="panel-head">
        <h2>Search</h2>
        <button className="icon-btn" aria-label="Close search" onClick={onClose}>
          <Icon name="close" />
        </button>
      </div>
      <form
        className="search-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        <div className="search-box">
          <Icon name="search" size={16} />
          <input
            ref={input}
            type="search"
            role="combobox"
            aria-controls={shown.length > 0 ? "search-suggestions" : undefined}
            value={q}
            maxLength={512}
            placeholder="Search messages"
            aria-label="Search messages"
            aria-autocomplete="list"
            aria-expanded={shown.length > 0}
            onChange={(e) => setQ(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.preventDefault();
                onClose();
              }
              if (!shown.length || !suggestions) return;
              if (e.key === "ArrowDown" || e.key === "ArrowUp") {
                e.preventDefault();
                setPick((p) => (p + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length);
              } else if (e.key === "Tab" || (e.key === "Enter" && shown[pick] !== undefined)) {
                e.preventDefault();
                setQ(complete(q, suggestions.op, shown[pick] ?? ""));
              }
            }}
          />
        </div>
        {shown.length > 0 && suggestions ? (
          <ul id="search-suggestions" className="suggestions" role="listbox" aria-label={suggestions.op === "in" ? "Channels" : "People"}>
            {shown.map((name, i) => (
              <li key={name} role="option" aria-selected={i === pick}>
                <button type="button" onMouseDown={(e) => e.preventDefault()} onClick={() => setQ(complete(q, suggestions.op, name))}>
                  {suggestions.op === "in" ? `#${name}` : `@${name}`}
                </button>
              </li>
            ))}
          </ul>
        ) : null}
      </form>
      <div className="thread-scroll search-results" aria-live="polite" aria-busy={busy}>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        {query.trim() === "" && !error ? (
          <div className="search-help">
            <p className="muted">Find messages in the conversations you can read. Words can be in any form: "deploy" finds "deploying".</p>
            <dl>
              {HELP.map((h) => (
                <div key={h.shown}>
                  <dt>
                    <button
                      type="button"
                      className="chip"
                      onClick={() => {
                        setQ((x) => `${x.trimEnd()}${x.trim() ? " " : ""}${h.insert}`);
                        input.current?.focus();
                      }}
                    >
                      {h.shown}
                    </button>
                  </dt>
                  <dd>{h.means}</dd>
                </div>
              ))}
            </dl>
          </div>
        ) : null}
        {busy && !searched ? <p className="muted search-count">Searching…</p> : null}
        {searched !== null && !error ? (
          <p className="muted search-count">{total === 0 ? `No messages match “${searched}”.` : `${total.toLocaleString("en")}${capped ? "+" : ""} ${total === 1 && !capped ? "result" : "results"}`}</p>
        ) : null}
        {hits.map((hit) => (
          <button key={hit.message.id} className="search-hit" onClick={() => open(hit)}>
            <Avatar userId={hit.user.id} />
            <span className="search-hit-body">
              <span className="search-hit-meta">
                <b>{hit.user.display_name || hit.user.username}</b>
                <span className="muted">
                  {hit.channel.name ? `#${hit.channel.name}` : "Direct message"}
                  {hit.message.thread_root_id ? " · in a thread" : ""} · {dateFmt.format(new Date(hit.message.created_at))}
                </span>
              </span>
              <span className="search-hit-text">
                {hit.highlights.map((h, i) => (
                  <Highlight key={i} html={h} />
                ))}
              </span>
            </span>
          </button>
        ))}
        {results.hasNextPage ? (
          <button className="btn small more-results" disabled={busy} onClick={() => void results.fetchNextPage()}>
            {busy ? "Loading…" : "More results"}
          </button>
        ) : null}
      </div>
    </aside>
  );
}
