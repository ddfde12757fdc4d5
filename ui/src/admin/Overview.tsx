import { useQuery } from "@tanstack/react-query";
import { Link } from "wouter";
import { api, call } from "../api/client";
import { DayChart } from "./Chart";
import { bytes, duration } from "./format";

/** Backends that run inside CoLink: up exactly as long as it is. */
const IN_PROCESS = new Set(["sqlite", "embedded", "fs", "tantivy", "memory", "mailbox"]);

/** How often the live counters are read (a cheap in-memory route). */
const LIVE_EVERY_MS = 5_000;

export function Overview() {
  const stats = useQuery({ queryKey: ["admin", "stats"], queryFn: () => call(api.GET("/admin/stats")), refetchInterval: 60_000 });
  const system = useQuery({ queryKey: ["admin", "system"], queryFn: () => call(api.GET("/admin/system")), refetchInterval: 30_000 });
  const live = useQuery({ queryKey: ["admin", "live"], queryFn: () => call(api.GET("/admin/live")), refetchInterval: LIVE_EVERY_MS });
  const s = stats.data;
  return (
    <>
      <header className="admin-head">
        <h1>Overview</h1>
        {system.data ? (
          <span className="muted">
            CoLink {system.data.version} · up {duration(system.data.uptime_seconds)}
          </span>
        ) : null}
      </header>
      <section className="live-strip" aria-label="Right now">
        <span className="live-dot" aria-hidden="true" />
        <Live label="connected clients" value={live.data?.connections} />
        <Live label="people online" value={live.data?.users_connected} />
        <Live label="messages in the last minute" value={live.data?.messages_last_minute} />
      </section>
      {stats.error ? <div className="form-error">{stats.error.message}</div> : null}
      <section className="stat-cards" aria-label="Totals">
        <Stat label="People" value={s?.users.total} detail={s ? `${s.users.active_today} active today · ${s.users.active_30_days} in 30 days` : ""} />
        <Stat label="Messages today" value={s?.messages_today} detail={s ? `${s.messages_per_day.reduce((n, d) => n + d.messages, 0).toLocaleString()} in 30 days` : ""} />
        <Stat label="Storage used" value={s ? bytes(s.storage_bytes) : undefined} detail={s ? `${s.files.toLocaleString()} files` : ""} />
        <Stat
          label="Open reports"
          value={s?.open_reports}
          detail={
            s && s.open_reports > 0 ? (
              <Link href="/admin/moderation">Review the queue →</Link>
            ) : (
              "Nothing waiting"
            )
          }
          warn={!!s && s.open_reports > 0}
        />
      </section>
      {s ? (
        <section className="charts">
          <DayChart title="Messages per day" unit="messages" kind="bars" points={s.messages_per_day.map((d) => ({ day: d.day, value: d.messages }))} />
          <DayChart title="Active people per day" unit="people" kind="line" points={s.active_users_per_day.map((d) => ({ day: d.day, value: d.users }))} />
        </section>
      ) : null}
      <div className="overview-lower">
        <section className="card">
          <h2>Busiest channels this week</h2>
          {s && s.top_channels.length > 0 ? (
            <ol className="top-channels">
              {s.top_channels.map((c) => (
                <li key={c.id}>
                  <span className="top-name">
                    {c.kind === "private" ? "🔒 " : "# "}
                    {c.name}
                  </span>
                  <span className="top-bar" style={{ width: `${Math.max(4, (100 * c.messages) / (s.top_channels[0]?.messages || 1))}%` }} />
                  <span className="top-count">{c.messages.toLocaleString()}</span>
                </li>
              ))}
            </ol>
          ) : (
            <p className="muted">No messages in channels this week.</p>
          )}
        </section>
        <section className="card">
          <h2>Backends</h2>
          <ul className="backends">
            {(system.data?.backends ?? []).map((b) => (
              <li key={b.name}>
                <span className={`health ${b.health}`} title={b.health} aria-label={b.health} />
                <span className="backend-name">{b.name}</span>
                <span className="muted backend-kind">
                  {b.version ?? b.kind}
                  <span className="small">{b.uptime_seconds !== undefined ? ` · up ${duration(b.uptime_seconds)}` : IN_PROCESS.has(b.kind) ? " · in process" : ""}</span>
                </span>
                <span className="backend-latency">{b.health === "unchecked" ? "—" : `${b.latency_ms.toFixed(1)} ms`}</span>
                {b.error ? <span className="backend-error">{b.error}</span> : null}
              </li>
            ))}
          </ul>
        </section>
      </div>
    </>
  );
}

function Live({ label, value }: { label: string; value: number | undefined }) {
  return (
    <span className="live-counter">
      <strong>{value === undefined ? "–" : value.toLocaleString()}</strong> {label}
    </span>
  );
}

function Stat({ label, value, detail, warn = false }: { label: string; value: number | string | undefined; detail: React.ReactNode; warn?: boolean }) {
  return (
    <div className={warn ? "stat card warn" : "stat card"}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value === undefined ? "–" : typeof value === "number" ? value.toLocaleString() : value}</div>
      <div className="stat-detail muted">{detail}</div>
    </div>
  );
}
