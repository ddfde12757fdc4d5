import { useEffect, useState } from "react";
import { useDebounced } from "../lib/useDebounced";
import { Link } from "wouter";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, call, ApiError, type Schemas } from "../api/client";
import { Avatar } from "../components/Avatar";
import { Field, FormError, useSubmit } from "../components/Form";
import { useUser } from "../store/data";
import { queryClient } from "../queryClient";
import { ago, dateTime } from "./format";

type Entry = Schemas["QueueEntry"];
type Resolution = Schemas["ResolveAction"];

export function Moderation({ tab }: { tab: "queue" | "rules" }) {
  return (
    <>
      <header className="admin-head">
        <h1>Moderation</h1>
        <nav className="tabs" aria-label="Moderation">
          <Link href="/admin/moderation" className={tab === "queue" ? "tab active" : "tab"} aria-current={tab === "queue" ? "page" : undefined}>
            Reports
          </Link>
          <Link href="/admin/moderation/rules" className={tab === "rules" ? "tab active" : "tab"} aria-current={tab === "rules" ? "page" : undefined}>
            Rules
          </Link>
        </nav>
      </header>
      {tab === "rules" ? <Rules /> : <Queue />}
    </>
  );
}

const queueKey = ["admin", "queue"] as const;

/** The reports queue: the longest-waiting first; j/k move, d dismisses, x deletes, r restores. */
function Queue() {
  const queue = useInfiniteQuery({
    queryKey: queueKey,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => call(api.GET("/admin/moderation/queue", { params: { query: { cursor: pageParam, limit: 50 } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const entries = queue.data?.pages.flatMap((p) => p.items) ?? [];
  const [selected, setSelected] = useState<string | null>(null);
  const current = entries.find((e) => e.message_id === selected) ?? entries[0];
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const resolve = async (entry: Entry, action: Resolution) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    const i = entries.indexOf(entry);
    try {
      await call(api.POST("/admin/moderation/queue/{id}/resolve", { params: { path: { id: entry.message_id } }, body: { action } }));
      setSelected(entries[i + 1]?.message_id ?? entries[i - 1]?.message_id ?? null);
      await Promise.all([queryClient.invalidateQueries({ queryKey: queueKey }), queryClient.invalidateQueries({ queryKey: ["admin", "stats"] })]);
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "unknown", String(e)));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.ctrlKey || e.metaKey || e.altKey || t?.closest("input, textarea, select, dialog")) return;
      if (!current) return;
      const i = entries.indexOf(current);
      const move = (to: number) => {
        const next = entries[Math.max(0, Math.min(entries.length - 1, to))];
        if (next) setSelected(next.message_id);
      };
      if (e.key === "j" || e.key === "ArrowDown") move(i + 1);
      else if (e.key === "k" || e.key === "ArrowUp") move(i - 1);
      else if (e.key === "d") void resolve(current, "dismiss");
      else if (e.key === "x") void resolve(current, "delete");
      else if (e.key === "r" && current.hidden) void resolve(current, "restore");
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  if (queue.isSuccess && entries.length === 0)
    return (
      <div className="empty-card card">
        <h2>All clear</h2>
        <p className="muted">No reports are waiting. Messages people report, and messages your rules flag or hold back, show up here.</p>
      </div>
    );
  return (
    <>
      <p className="shortcuts muted small">
        <kbd>j</kbd>/<kbd>k</kbd> next/previous · <kbd>d</kbd> dismiss · <kbd>x</kbd> delete · <kbd>r</kbd> restore a held-back message
      </p>
      <FormError error={error} />
      <ul className="queue">
        {entries.map((e) => (
          <QueueItem key={e.message_id} entry={e} open={e === current} busy={busy} onOpen={() => setSelected(e.message_id)} onResolve={(a) => void resolve(e, a)} />
        ))}
      </ul>
      {queue.hasNextPage ? (
        <button className="btn more-results" onClick={() => void queue.fetchNextPage()}>
          Show more
        </button>
      ) : null}
    </>
  );
}

function QueueItem({ entry, open, busy, onOpen, onResolve }: { entry: Entry; open: boolean; busy: boolean; onOpen: () => void; onResolve: (a: Resolution) => void }) {
  const author = entry.author;
  return (
    <li className={open ? "queue-item card open" : "queue-item card"} aria-current={open ? "true" : undefined} onClick={open ? undefined : onOpen}>
      <div className="queue-meta">
        <span className="tag danger">
          {entry.report_count} report{entry.report_count === 1 ? "" : "s"}
        </span>
        {entry.hidden ? <span className="tag warn">held back</span> : null}
        {entry.deleted ? <span className="tag plain">deleted</span> : null}
        <span className="muted small">
          {entry.channel.kind === "public" || entry.channel.kind === "private" ? `#${entry.channel.name}` : "direct message"} · {dateTime(entry.message_created_at)}
        </span>
      </div>
      <div className="queue-message">
        {author ? <Avatar userId={author.id} size={32} /> : null}
        <div>
          <strong>{author ? author.display_name || author.username : "Someone"}</strong>
          <p className="queue-content">{entry.content || <em className="muted">(deleted)</em>}</p>
        </div>
      </div>
      <ul className="report-reasons">
        {entry.reports.map((r) => (
          <li key={r.id}>
            <Reporter id={r.reporter_id ?? null} /> {ago(r.created_at)}: <span className="reason">{r.reason}</span>
          </li>
        ))}
      </ul>
      {open ? <Context id={entry.message_id} /> : null}
      <div className="row-actions">
        <button className="btn" disabled={busy} onClick={() => onResolve("dismiss")} title="Keep the message and close its reports (d)">
          Dismiss
        </button>
        <button className="btn danger" disabled={busy || entry.deleted} onClick={() => onResolve("delete")} title="Delete the message for everyone (x)">
          Delete message
        </button>
        {entry.hidden ? (
          <button className="btn primary" disabled={busy} onClick={() => onResolve("restore")} title="Show the message to everyone (r)">
            Restore
          </button>
        ) : null}
      </div>
    </li>
  );
}

function Reporter({ id }: { id: string | null }) {
  const user = useUser(id);
  if (!id) return <span className="muted">A moderation rule</span>;
  return <strong>{user.data ? user.data.display_name || user.data.username : "…"}</strong>;
}

/** A few messages around the reported one, as they were posted. */
function Context({ id }: { id: string }) {
  const context = useQuery({ queryKey: ["admin", "context", id], queryFn: () => call(api.GET("/admin/moderation/queue/{id}/context", { params: { path: { id }, query: { around: 3 } } })) });
  if (!context.data) return <div className="context muted small">Loading the conversation…</div>;
  return (
    <ol className="context" aria-label="The conversation around it">
      {context.data.items.map((m) => (
        <ContextLine key={m.id} m={m} reported={m.id === id} />
      ))}
    </ol>
  );
}

function ContextLine({ m, reported }: { m: Schemas["MessageView"]; reported: boolean }) {
  const user = useUser(m.user_id);
  return (
    <li className={reported ? "reported" : undefined}>
      <span className="context-author">{user.data ? user.data.display_name || user.data.username : "…"}</span>
      <span className="context-text">{m.content || <em className="muted">(deleted)</em>}</span>
    </li>
  );
}

const rulesKey = ["admin", "rules"] as const;

const WOULD: Record<string, string> = {
  flag: "flagged for review",
  hide: "hidden until an admin restores it",
  block: "blocked: the sender sees an error",
};

/** The rules editor: the rules in force, a form to add one, and a box to try text against them. */
function Rules() {
  const rules = useQuery({ queryKey: rulesKey, queryFn: () => call(api.GET("/admin/moderation/rules")) });
  const [pattern, setPattern] = useState("");
  const [kind, setKind] = useState<Schemas["RuleKind"]>("literal");
  const [severity, setSeverity] = useState<Schemas["RuleSeverity"]>("medium");
  const [action, setAction] = useState<Schemas["RuleAction"]>("flag");
  const add = useSubmit(async () => {
    await call(api.POST("/admin/moderation/rules", { body: { pattern, kind, severity, action } }));
    setPattern("");
    await queryClient.invalidateQueries({ queryKey: rulesKey });
  });
  const remove = async (id: string) => {
    await call(api.DELETE("/admin/moderation/rules/{id}", { params: { path: { id } } }));
    await queryClient.invalidateQueries({ queryKey: rulesKey });
  };
  return (
    <div className="rules-layout">
      <section>
        <form className="card rule-form" onSubmit={add.submit}>
          <h2>Add a rule</h2>
          <Field
            label={kind === "regex" ? "Pattern (regular expression)" : "Words to look for"}
            value={pattern}
            onChange={(e) => setPattern(e.target.value)}
            error={add.error?.field("pattern") ?? (add.error && add.error.status === 400 ? add.error.message : undefined)}
            hint={kind === "regex" ? "Case-insensitive. No look-around; very large patterns are refused." : "Case-insensitive; matched anywhere in the message."}
            maxLength={500}
            required
          />
          <div className="rule-selects">
            <label>
              Kind
              <select value={kind} onChange={(e) => setKind(e.target.value as Schemas["RuleKind"])}>
                <option value="literal">Words</option>
                <option value="regex">Regular expression</option>
              </select>
            </label>
            <label>
              Severity
              <select value={severity} onChange={(e) => setSeverity(e.target.value as Schemas["RuleSeverity"])}>
                <option value="low">Low</option>
                <option value="medium">Medium</option>
                <option value="high">High</option>
              </select>
            </label>
            <label>
              Then
              <select value={action} onChange={(e) => setAction(e.target.value as Schemas["RuleAction"])}>
                <option value="flag">Flag for review</option>
                <option value="hide">Hide until reviewed</option>
                <option value="block">Block the message</option>
              </select>
            </label>
          </div>
          {add.error && add.error.status !== 400 ? <FormError error={add.error} /> : null}
          <button className="btn primary" disabled={add.busy || !pattern.trim()}>
            Add rule
          </button>
        </form>
        <TestBox rules={rules.data ?? []} />
      </section>
      <section>
        <h2>Rules in force</h2>
        {rules.data && rules.data.length === 0 ? <p className="muted">No rules yet. Every new and edited message is checked against the rules you add here.</p> : null}
        <ul className="rules">
          {(rules.data ?? []).map((r) => (
            <li key={r.id} className="card">
              <code className="rule-pattern">{r.pattern}</code>
              <div className="tags">
                <span className={`tag action-${r.action}`}>{r.action}</span>
                <span className="tag plain">{r.severity}</span>
                {r.kind === "regex" ? <span className="tag plain">regex</span> : null}
                <span className="muted small">added {ago(r.created_at)}</span>
              </div>
              <button className="btn small danger" aria-label={`Remove the rule ${r.pattern}`} onClick={() => void remove(r.id)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

/** Type a message, see what the rules in force would do with it. */
function TestBox({ rules }: { rules: Schemas["RuleView"][] }) {
  const [text, setText] = useState("");
  const debounced = useDebounced(text, 200);
  const ids = rules.map((r) => r.id).join();
  const verdict = useQuery({
    queryKey: ["admin", "rule-test", debounced, ids],
    queryFn: () => call(api.POST("/admin/moderation/rules/test", { body: { content: debounced } })),
    enabled: debounced.trim().length > 0,
  });
  const matched = rules.filter((r) => verdict.data?.rule_ids.includes(r.id));
  return (
    <div className="card test-box">
      <h2>Try a message</h2>
      <textarea aria-label="Message to test" placeholder="Type a message to see what the rules would do with it" value={text} onChange={(e) => setText(e.target.value)} rows={3} />
      <p className="verdict" role="status">
        {!debounced.trim() ? (
          <span className="muted">The verdict shows here as you type.</span>
        ) : verdict.data ? (
          verdict.data.action ? (
            <>
              This text would be <strong className={`verdict-${verdict.data.action}`}>{WOULD[verdict.data.action]}</strong>
              {matched.length > 0 ? <span className="muted"> — by {matched.map((r) => `“${r.pattern}”`).join(", ")}</span> : null}
            </>
          ) : (
            <>
              This text would be <strong className="verdict-ok">sent as is</strong>
            </>
          )
        ) : null}
      </p>
    </div>
  );
}
