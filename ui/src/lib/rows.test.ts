import { describe, expect, it } from "vitest";
import type { Message } from "../api/client";
import { buildRows } from "./rows";

const base = Date.UTC(2026, 10, 30, 9, 0, 0);
function msg(seq: number, user: string, minutes: number): Message {
  return {
    id: `m${seq}`, seq, channel_id: "c", user_id: user, content: "x",
    created_at: new Date(base + minutes * 60_000).toISOString(), deleted: false, hidden: false,
    mentions: { channel: false, here: false, user_ids: [] }, files: [], notices: [], pinned: false, reactions: [], reply_count: 0,
  };
}

describe("rows", () => {
  it("groups consecutive messages of one author within five minutes", () => {
    const rows = buildRows([msg(1, "a", 0), msg(2, "a", 2), msg(3, "a", 9), msg(4, "b", 10)], [], null, "a", new Date(base));
    expect(rows.map((r) => (r.kind === "message" ? `${r.message.seq}${r.grouped ? "g" : ""}` : r.kind))).toEqual(["day", "1", "2g", "3", "4"]);
  });

  it("puts a day divider between days and the new line before the first unread message of others", () => {
    const rows = buildRows([msg(1, "a", 0), msg(2, "me", 60 * 24), msg(3, "a", 60 * 24 + 1)], [], 1, "me", new Date(base + 86_400_000));
    expect(rows.map((r) => r.kind)).toEqual(["day", "message", "day", "message", "new", "message"]);
    expect(rows[0]).toMatchObject({ label: "Yesterday" });
    expect(rows[2]).toMatchObject({ label: "Today" });
  });

  it("shows pending sends last", () => {
    const rows = buildRows([msg(1, "me", 0)], [{ client_id: "k", channel_id: "c", content: "hi", created_at: new Date(base + 60_000).toISOString(), state: "sending" }], null, "me", new Date(base));
    expect(rows.at(-1)).toMatchObject({ kind: "pending", grouped: true });
  });
});
