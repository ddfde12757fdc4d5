/**
 * The browser session. The access token lives only in this tab's memory; the refresh token is an
 * HttpOnly cookie the server sets (`/auth/web/*`), so scripts never see it. Invariants:
 * - One refresh at a time across all tabs (Web Locks): refresh tokens rotate, and the server
 *   treats a reused one as theft and ends the session, so two tabs must never race.
 * - A tab that refreshed tells the others (BroadcastChannel); a tab waiting on the lock adopts the
 *   fresh token instead of refreshing again.
 * - Refresh happens silently a minute before expiry; sign-out in one tab signs out every tab.
 */
import createClient from "openapi-fetch";
import type { paths } from "./schema";

export interface AccessToken {
  access_token: string;
  expires_in: number;
}

type Status = "unknown" | "signed-in" | "signed-out";
type Message = { type: "token"; token: string; expiresAt: number } | { type: "signed-out" };

const REFRESH_EARLY_MS = 60_000;
const raw = createClient<paths>({ baseUrl: `${location.origin}/api/v1`, credentials: "same-origin" });

/** The CSRF cookie's value (double-submit: the server compares it with the header). */
export function csrfToken(cookies: string = document.cookie): string {
  for (const part of cookies.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === "colink_csrf") return decodeURIComponent(v.join("="));
  }
  return "";
}

export class Session {
  private token: string | null = null;
  private expiresAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inflight: Promise<boolean> | null = null;
  private listeners = new Set<() => void>();
  private channel: BroadcastChannel | null;
  status: Status = "unknown";

  constructor() {
    this.channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("colink-session");
    this.channel?.addEventListener("message", (e: MessageEvent<Message>) => {
      if (e.data.type === "token") this.adopt(e.data.token, e.data.expiresAt);
      else this.clear();
    });
  }

  accessToken(): string | null {
    return this.token;
  }

  /** Milliseconds since the epoch when the access token expires. */
  expiry(): number {
    return this.expiresAt;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Take tokens from a login answer. */
  accept(t: AccessToken) {
    const expiresAt = Date.now() + t.expires_in * 1000;
    this.adopt(t.access_token, expiresAt);
    this.channel?.postMessage({ type: "token", token: t.access_token, expiresAt } satisfies Message);
  }

  /** Refresh through the cookie; false when there is no session (signed out). */
  refresh(): Promise<boolean> {
    if (!this.inflight) {
      this.inflight = this.refreshLocked().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /** Stop timers and leave the tabs' channel (tests; a page just unloads). */
  close() {
    clearTimeout(this.timer);
    this.channel?.close();
    this.listeners.clear();
  }

  /** Run `fn` holding the refresh lock: a refresh that another event starts meanwhile (a
   * socket closed because the old session ended) waits, then finds the new token. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (typeof navigator !== "undefined" && navigator.locks) return navigator.locks.request("colink-refresh", fn) as Promise<T>;
    return fn();
  }

  /** End the session here and in every tab; a session from an identity provider ends there
   * too (the browser goes to its logout page, which comes back to /login). */
  async signOut() {
    let providerLogout: string | null | undefined = null;
    try {
      const res = await raw.POST("/auth/web/logout", { headers: { "X-CSRF-Token": csrfToken() } });
      providerLogout = res.data?.end_session_url;
    } catch {
      // Offline: the cookie stays until it expires, but this browser forgets the session now.
    }
    this.channel?.postMessage({ type: "signed-out" } satisfies Message);
    this.clear();
    if (providerLogout) window.location.assign(providerLogout);
  }

  private async refreshLocked(): Promise<boolean> {
    const startedWith = this.token;
    const work = async () => {
      // Another tab refreshed while this one waited for the lock.
      if (this.token && this.token !== startedWith && this.expiresAt - Date.now() > REFRESH_EARLY_MS) return true;
      let res;
      try {
        res = await raw.POST("/auth/web/refresh", { headers: { "X-CSRF-Token": csrfToken() } });
      } catch {
        // Network trouble: keep the current token (if any) and try again later.
        this.schedule(15_000);
        return this.token !== null;
      }
      if (res.data) {
        this.accept(res.data);
        return true;
      }
      if (res.response.status === 401 || res.response.status === 403) {
        this.clear();
        return false;
      }
      this.schedule(15_000);
      return this.token !== null;
    };
    if (typeof navigator !== "undefined" && navigator.locks) {
      return navigator.locks.request("colink-refresh", work);
    }
    return work();
  }

  private adopt(token: string, expiresAt: number) {
    this.token = token;
    this.expiresAt = expiresAt;
    this.status = "signed-in";
    this.schedule(Math.max(5_000, expiresAt - Date.now() - REFRESH_EARLY_MS - Math.random() * 10_000));
    this.emit();
  }

  private clear() {
    clearTimeout(this.timer);
    this.token = null;
    this.expiresAt = 0;
    this.status = "signed-out";
    this.emit();
  }

  private schedule(ms: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), ms);
  }

  private emit() {
    for (const fn of this.listeners) fn();
  }
}

export const session = new Session();
