// Measures the time from POST /channels/{id}/messages (one user, over HTTP) to the message being
// painted in another user's browser (Chromium, playwright-core), over 100 messages.
//   SERVER_BIN=… node e2e/paint-latency.mjs        (scripts/e2e.sh builds the binary)
import { startServer, launchBrowser, newUser } from "./harness.mjs";

const N = Number(process.env.MESSAGES ?? 100);
const server = await startServer({ COLINK_LIMITS__WRITES__MESSAGES__CAPACITY: "100000", COLINK_LIMITS__WRITES__MESSAGES__PER_MINUTE: "100000" });
const browser = await launchBrowser();
const api = async (path, token, body, method = "POST") => {
  const r = await fetch(`${server.base}/api/v1${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
};
try {
  const password = "correct horse battery";
  const setup = await api("/setup", null, { setup_token: server.setupToken, email: "a@example.com", username: "alice", password, workspace_name: "Bench" });
  const alice = setup.tokens.access_token;
  const invite = await api(`/workspaces/${setup.workspace.id}/invites`, alice, {});
  await api("/auth/register", null, { email: "b@example.com", username: "bob", password, invite_token: invite.token });
  const convs = await api("/conversations", alice, null, "GET");
  const general = convs.items.find((c) => c.name === "general");

  const errors = [];
  const { page } = await newUser(browser, "bob", errors);
  await page.goto(`${server.base}/login`);
  await page.getByLabel("Username or email").fill("bob");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/c\//);
  await page.goto(`${server.base}/w/${setup.workspace.id}/c/${general.id}`);
  await page.getByRole("log", { name: "Messages" }).waitFor();
  // Record when each "lat-N" message is painted: the frame after it enters the DOM.
  await page.evaluate(() => {
    window.__painted = {};
    new MutationObserver(() => {
      for (const el of document.querySelectorAll("article .msg-content")) {
        const m = /lat-(\d+)/.exec(el.textContent ?? "");
        if (m && !window.__painted[m[1]]) {
          window.__painted[m[1]] = -1;
          requestAnimationFrame(() => (window.__painted[m[1]] = performance.timeOrigin + performance.now()));
        }
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.waitForTimeout(500); // let the socket's subscription settle before timing
  const latencies = [];
  for (let i = 1; i <= N; i++) {
    const t0 = Date.now();
    await api(`/channels/${general.id}/messages`, alice, { content: `lat-${i}` });
    await page.waitForFunction((k) => window.__painted[k] > 0, String(i), { polling: "raf" });
    const painted = await page.evaluate((k) => window.__painted[k], String(i));
    latencies.push(painted - t0);
  }
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  console.log(`POST → painted in the other browser, ${N} messages: p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${latencies.at(-1).toFixed(1)} ms`);
  if (errors.length) console.log("console errors:", errors);
} finally {
  await browser.close();
  await server.stop();
}
