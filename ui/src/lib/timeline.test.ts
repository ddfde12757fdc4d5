import { describe, expect, it } from "vitest";
import type { Message } from "../api/client";
import { EMPTY, addPending, deleteMessage, lastSeq, mergeMessages, react, receive, receiveThread } from "./timeline";

function msg(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    seq,
    channel_id: "c1",
    user_id: "u1",
    content: `message ${seq}`,
    created_at: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
    deleted: false,
    hidden: false,
    mentions: { channel: false, here: false, user_ids: [] },
    files: [],
    notices: [],
    pinned: false,
    reactions: [],
    reply_count: 0,
    ...over,
  };
}

describe("timeline", () => {
  it("orders by seq and keeps each message once, whatever the arrival order", () => {
    const page = [msg(3), msg(2), msg(1)]; // newest first, as the API pages
    const live = [msg(4), msg(2)];
    const replay = [msg(3), msg(4), msg(5)];
    let t = receive(EMPTY, page);
    t = receive(t, live, true);
    t = receive(t, replay, true);
    expect(t.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(lastSeq(t)).toBe(5);
  });

  it("a replayed create does not undo a later edit, delete or reply count", () => {
    const created = msg(7);
    const edited = { ...created, content: "edited", edited_at: new Date(1_800_000_000_000).toISOString() };
    const withReplies = { ...edited, reply_count: 3 };
    let list = mergeMessages([], [withReplies]);
    list = mergeMessages(list, [created], true);
    expect(list[0]?.content).toBe("edited");
    expect(list[0]?.reply_count).toBe(3);
    const deleted = { ...created, deleted: true, content: "" };
    list = mergeMessages(list, [deleted], true);
    list = mergeMessages(list, [withReplies], true);
    expect(list[0]?.deleted).toBe(true);
  });

  it("events keep the reactions a message already has; pages replace them", () => {
    const withReaction = msg(1, { reactions: [{ emoji: "🎉", count: 1, me: true, user_ids: ["u1"] }] });
    let list = mergeMessages([], [withReaction]);
    list = mergeMessages(list, [msg(1, { reply_count: 1 })], true);
    expect(list[0]?.reactions).toHaveLength(1);
    list = mergeMessages(list, [msg(1)], false);
    expect(list[0]?.reactions).toHaveLength(0);
  });

  it("an optimistic send is replaced by the server's message with its client_id", () => {
    let t = receive(EMPTY, [msg(1)]);
    t = addPending(t, { client_id: "k1", channel_id: "c1", content: "hi", created_at: "", state: "sending" });
    t = addPending(t, { client_id: "k2", channel_id: "c1", content: "there", created_at: "", state: "sending" });
    expect(t.pending).toHaveLength(2);
    t = receive(t, [msg(2, { client_id: "k1", content: "hi" })], true);
    expect(t.pending.map((p) => p.client_id)).toEqual(["k2"]);
    // the same message again (the POST's answer after the event) changes nothing
    t = receive(t, [msg(2, { client_id: "k1", content: "hi" })]);
    expect(t.messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it("thread replies stay out of the channel timeline", () => {
    const t = receive(EMPTY, [msg(1), msg(2, { thread_root_id: "m1" })], true);
    expect(t.messages.map((m) => m.id)).toEqual(["m1"]);
  });

  it("reaction events count each user once, replays included", () => {
    let t = receive(EMPTY, [msg(1)]);
    t = react(t, "m1", "👍", "u2", true, "u1");
    t = react(t, "m1", "👍", "u2", true, "u1");
    t = react(t, "m1", "👍", "u1", true, "u1");
    expect(t.messages[0]?.reactions).toEqual([{ emoji: "👍", count: 2, me: true, user_ids: ["u2", "u1"] }]);
    t = react(t, "m1", "👍", "u1", false, "u1");
    t = react(t, "m1", "👍", "u2", false, "u1");
    expect(t.messages[0]?.reactions).toEqual([]);
  });

  it("deletion blanks the content", () => {
    const t = deleteMessage(receive(EMPTY, [msg(1)]), "m1", "2026-01-01T00:00:00Z");
    expect(t.messages[0]).toMatchObject({ deleted: true, content: "" });
  });

  it("a thread timeline holds its root and its replies only", () => {
    const t = receiveThread(EMPTY, "m1", [msg(1), msg(2, { thread_root_id: "m1" }), msg(3), msg(4, { thread_root_id: "m3" })], true);
    expect(t.messages.map((m) => m.id)).toEqual(["m1", "m2"]);
  });
});
