/** The rows of a message list: day dividers, the "new messages" line, grouped messages. */
import type { Message } from "../api/client";
import type { Pending } from "./timeline";

export type Row =
  | { kind: "day"; key: string; label: string }
  | { kind: "new"; key: string }
  | { kind: "message"; key: string; message: Message; grouped: boolean }
  | { kind: "pending"; key: string; pending: Pending; grouped: boolean };

const GROUP_MS = 5 * 60_000;

export function dayLabel(d: Date, now = new Date()): string {
  const day = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(now) - day(d)) / 86_400_000);
  if (diff === 0) return "Today";
  if (diff === 1) return "Yesterday";
  return d.toLocaleDateString(undefined, { weekday: "long", month: "long", day: "numeric", ...(d.getFullYear() !== now.getFullYear() ? { year: "numeric" } : {}) });
}

/**
 * `newAfter`: the viewer's read marker when they opened the conversation; the "new" line goes
 * before the first later message by someone else.
 */
export function buildRows(messages: Message[], pending: Pending[], newAfter: number | null, me: string | undefined, now = new Date()): Row[] {
  const rows: Row[] = [];
  let prev = null as { user: string; at: number; day: string } | null;
  let newShown = false;
  for (const m of messages) {
    const at = Date.parse(m.created_at);
    const d = new Date(at);
    const day = d.toDateString();
    if (prev?.day !== day) {
      rows.push({ kind: "day", key: `day-${day}`, label: dayLabel(d, now) });
      prev = null;
    }
    let isNew = false;
    if (!newShown && newAfter !== null && m.seq > newAfter && m.user_id !== me) {
      rows.push({ kind: "new", key: "new" });
      newShown = true;
      isNew = true;
    }
    const grouped = !isNew && prev !== null && prev.user === m.user_id && at - prev.at < GROUP_MS && !m.deleted;
    rows.push({ kind: "message", key: m.id, message: m, grouped });
    prev = { user: m.user_id, at, day };
  }
  for (const p of pending) {
    const at = Date.parse(p.created_at);
    const grouped = prev !== null && prev.user === me && at - prev.at < GROUP_MS;
    rows.push({ kind: "pending", key: `p-${p.client_id}`, pending: p, grouped });
    prev = { user: me ?? "", at, day: new Date(at).toDateString() };
  }
  return rows;
}
