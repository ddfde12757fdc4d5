/**
 * The one WebSocket of the app (SPEC §6). Invariants:
 * - It authenticates with a single-use ticket, never with the token in the URL.
 * - It reconnects with jittered exponential back-off (0.5 s → 30 s), at once when the browser
 *   comes back online, and after a fresh token when the server closed it with 4001.
 * - After every (re)connect each open conversation is resumed from the last seq the app holds, so
 *   nothing is lost across a drop; the timeline de-duplicates what arrives twice. Then one
 *   `subscribe_all` follows every other conversation of the user, for live unread counts.
 * - The access token is renewed on the open socket (`auth` frame) whenever the session refreshes.
 * The frame types below follow SPEC §6; event payloads use the generated schema types.
 */
import { api, call, type Channel, type Message } from "../api/client";
import { session } from "../api/session";

export type Presence = "online" | "away" | "dnd" | "offline";

interface Envelope<T extends string, D> {
  id: string;
  type: T;
  occurred_at: string;
  workspace_id?: string | null;
  channel_id?: string | null;
  actor_id?: string | null;
  seq?: number | null;
  data: D;
}

interface ReactionChange {
  id: string;
  message_id: string;
  user_id: string;
  emoji: string;
}
interface MemberChange {
  user_id: string;
  role: string;
  channel_kind: string;
}

export type ServerEvent =
  | Envelope<"message.created" | "message.updated", Message>
  | Envelope<"message.deleted", { id: string; seq: number; thread_root_id?: string | null; deleted_by: string }>
  | Envelope<"reaction.added" | "reaction.removed", ReactionChange>
  | Envelope<"channel.created" | "channel.updated", Channel>
  | Envelope<"channel.archived", { archived_at?: string | null; kind: string }>
  | Envelope<"member.joined" | "member.left", MemberChange>
  | Envelope<"conversation.read", { user_id: string; last_read_seq: number }>
  | Envelope<"thread.updated", { root_id: string; user_id: string; following: boolean; last_read_seq: number; unread_replies: number; unread_mentions: number }>
  | Envelope<"user.updated", { id: string; username: string; display_name: string; role: string; suspended: boolean; deactivated: boolean }>;

export type Frame =
  | { type: "event"; event: ServerEvent }
  | { type: "subscribed"; channel_id: string }
  | { type: "subscribed_all"; count: number }
  | { type: "typing"; channel_id: string; user_id: string; username: string }
  | { type: "presence"; user_id: string; status: Presence }
  | { type: "pong" }
  | { type: "authenticated"; expires_at: number }
  | { type: "error"; code: string; message: string; channel_id?: string };

export type ConnectionState = "connecting" | "open" | "offline";

type Handler = (frame: Frame) => void;

export class Realtime {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private handlers = new Set<Handler>();
  private stateListeners = new Set<() => void>();
  /** Open conversations and the last seq the app holds for each (0: none yet). */
  private open = new Map<string, () => number>();
  state: ConnectionState = "offline";

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.offSession = session.subscribe(this.onSession);
    void this.connect();
  }

  stop() {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.timer);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.offSession?.();
    this.ws?.close(1000);
    this.ws = null;
    this.setState("offline");
  }

  on(h: Handler): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  onState(fn: () => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** Follow a conversation; `lastSeq` tells where to resume after a reconnect. When it is
   * closed, it stays subscribed if `isMine()` (`subscribe_all` follows the user's own
   * conversations for the sidebar); a public channel only looked at is unsubscribed. */
  watch(channelId: string, lastSeq: () => number, isMine: () => boolean): () => void {
    this.open.set(channelId, lastSeq);
    this.sendResume(channelId, lastSeq());
    return () => {
      if (this.open.get(channelId) === lastSeq) {
        this.open.delete(channelId);
        if (!isMine()) this.send({ type: "unsubscribe", channel_id: channelId });
      }
    };
  }

  /** Called when the server confirms `subscribe_all` (after each connect): every
   * conversation of the user is followed from then on, so the caller reads the counts once to
   * cover what was sent before. */
  onFollowed(fn: () => void): () => void {
    this.followedListeners.add(fn);
    return () => this.followedListeners.delete(fn);
  }

  private followedListeners = new Set<() => void>();

  typing(channelId: string) {
    this.send({ type: "typing", channel_id: channelId });
  }

  presence(status: "online" | "away" | "dnd") {
    this.send({ type: "presence", status });
  }

  private sendResume(channelId: string, after: number) {
    if (after > 0) this.send({ type: "resume", channel_id: channelId, after_seq: after });
    else this.send({ type: "subscribe", channel_id: channelId });
  }

  private send(frame: object) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private offSession: (() => void) | undefined;

  /** The browser lost the network: drop the socket now (it would linger half-open) and wait
   * for `online` to reconnect and resume. */
  private onOffline = () => {
    clearTimeout(this.timer);
    this.generation += 1;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.setState("offline");
  };

  private onOnline = () => {
    if (this.state !== "open") {
      this.attempt = 0;
      clearTimeout(this.timer);
      void this.connect();
    }
  };

  private lastToken: string | null = null;
  private onSession = () => {
    const token = session.accessToken();
    if (!token) {
      this.stop();
      return;
    }
    if (token !== this.lastToken && this.state === "open") this.send({ type: "auth", token });
    this.lastToken = token;
  };

  /** Bumped by every connect and stop: a connect that awaited its ticket while another began
   * (or the socket was stopped) gives up, so there is never more than one socket. */
  private generation = 0;

  private async connect() {
    if (this.stopped) return;
    const generation = ++this.generation;
    if (!navigator.onLine) {
      this.setState("offline"); // `online` reconnects
      return;
    }
    this.setState("connecting");
    let ticket: string;
    try {
      ticket = (await call(api.POST("/ws/ticket"))).ticket;
    } catch {
      if (generation === this.generation) this.retry();
      return;
    }
    if (this.stopped || generation !== this.generation) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    this.lastToken = session.accessToken();
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("open");
      for (const [id, seq] of this.open) this.sendResume(id, seq());
      // Every other conversation of the user, for live unread counts (one frame).
      this.send({ type: "subscribe_all" });
    };
    ws.onmessage = (e: MessageEvent<string>) => {
      let frame: Frame;
      try {
        frame = JSON.parse(e.data) as Frame;
      } catch {
        return;
      }
      if (frame.type === "subscribed_all") for (const fn of this.followedListeners) fn();
      for (const h of this.handlers) h(frame);
    };
    ws.onclose = (e: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped || !navigator.onLine) return;
      if (e.code === 4001) {
        // The token expired or was revoked: a fresh one, or the session is over.
        void session.refresh().then((ok) => (ok ? this.retry() : this.stop()));
        return;
      }
      this.retry(e.code === 4029 ? 10_000 : 0);
    };
  }

  private retry(minDelay = 0) {
    this.setState("offline");
    clearTimeout(this.timer);
    const base = Math.min(30_000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.max(minDelay, base / 2 + Math.random() * (base / 2));
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private setState(s: ConnectionState) {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.stateListeners) fn();
  }
}

export const realtime = new Realtime();
