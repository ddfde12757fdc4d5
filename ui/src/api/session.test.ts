import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

/** The session module with `fetch` answered by `answer` (the server is not part of unit tests;
 * the end-to-end tests run the real one). */
async function freshSession(answer: (req: Request) => Response | Promise<Response>) {
  const calls: Request[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: Request) => {
      calls.push(input);
      return answer(input);
    }),
  );
  vi.resetModules();
  const mod = await import("./session");
  current = mod.session;
  return { ...mod, calls };
}

// The module instance under test: closed after each test, so an earlier one's timers and
// cross-tab channel cannot answer in a later test.
let current: { close(): void } | undefined;

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

beforeEach(() => {
  document.cookie = "colink_csrf=abc123; path=/";
});
afterEach(() => {
  current?.close();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("session", () => {
  it("reads the CSRF cookie", async () => {
    const { csrfToken } = await freshSession(() => json({}));
    expect(csrfToken("a=1; colink_csrf=x%2By; b=2")).toBe("x+y");
    expect(csrfToken("a=1")).toBe("");
  });

  it("concurrent refreshes make one request, with the CSRF header, and share its token", async () => {
    let resolve: (r: Response) => void = () => undefined;
    const { session, calls } = await freshSession(() => new Promise<Response>((r) => (resolve = r)));
    const a = session.refresh();
    const b = session.refresh();
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    resolve(json({ access_token: "t1", token_type: "Bearer", expires_in: 900 }));
    expect(await Promise.all([a, b])).toEqual([true, true]);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toMatch(/\/api\/v1\/auth\/web\/refresh$/);
    expect(calls[0]?.headers.get("x-csrf-token")).toBe("abc123");
    expect(session.accessToken()).toBe("t1");
    expect(session.status).toBe("signed-in");
  });

  it("a refused refresh signs out; a network failure keeps the session", async () => {
    let mode: "down" | "refused" = "down";
    const { session } = await freshSession(() => {
      if (mode === "down") throw new TypeError("network");
      return json({ code: "token_revoked", status: 401, title: "x", detail: "x", type: "x", errors: [] }, 401);
    });
    session.accept({ access_token: "t0", expires_in: 900 });
    expect(await session.refresh()).toBe(true);
    expect(session.accessToken()).toBe("t0");
    mode = "refused";
    expect(await session.refresh()).toBe(false);
    expect(session.status).toBe("signed-out");
    expect(session.accessToken()).toBeNull();
  });

  it("refreshes silently about a minute before the token expires", async () => {
    vi.useFakeTimers();
    const { session, calls } = await freshSession(() => json({ access_token: "t2", token_type: "Bearer", expires_in: 900 }));
    session.accept({ access_token: "t1", expires_in: 120 });
    await vi.advanceTimersByTimeAsync(45_000);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20_000);
    await vi.waitFor(() => expect(session.accessToken()).toBe("t2"));
    expect(calls).toHaveLength(1);
  });
});
