// The end-to-end harness: the real CoLink binary with a temporary data dir on a free port, and
// Debian's Chromium driven by playwright-core. No mocks.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = resolve(here, "..", "test-artifacts");

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitReady(base, child, log) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`colink exited with ${child.exitCode}:\n${log.join("")}`);
    try {
      const r = await fetch(`${base}/ready`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`colink did not become ready:\n${log.join("")}`);
}

/** Start the server; returns { base, setupToken, stop, log }. `configToml`, when given, is
 * written to a file in the data dir and passed with `--config` (for what environment
 * variables cannot say, such as `[[auth.oidc.providers]]`); `{base}` in it becomes the
 * server's URL, `{port}` its port. */
export async function startServer(extraEnv = {}, { configToml } = {}) {
  const bin = process.env.SERVER_BIN;
  if (!bin || !existsSync(bin)) throw new Error("set SERVER_BIN to the release binary (scripts/e2e.sh does)");
  const dataDir = mkdtempSync(join(tmpdir(), "colink-e2e-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = [];
  const args = ["serve"];
  if (configToml) {
    const file = join(dataDir, "config.toml");
    writeFileSync(file, configToml.replaceAll("{base}", base).replaceAll("{port}", String(port)));
    args.push("--config", file);
  }
  const child = spawn(bin, args, {
    env: {
      ...process.env,
      COLINK_DATA_DIR: dataDir,
      COLINK_SERVER__BIND: `127.0.0.1:${port}`,
      COLINK_SERVER__PUBLIC_URL: base,
      COLINK_TELEMETRY__LEVEL: process.env.COLINK_TELEMETRY__LEVEL ?? "warn",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => log.push(String(d)));
  child.stderr.on("data", (d) => log.push(String(d)));
  await waitReady(base, child, log);
  const setupToken = readFileSync(join(dataDir, "setup-token"), "utf8").trim();
  return {
    base,
    setupToken,
    log,
    dataDir,
    /** The newest mail CoLink wrote to its mailbox directory (no SMTP configured), decoded. */
    async newestMail(after = 0) {
      const dir = join(dataDir, "mailbox");
      for (let i = 0; i < 300; i++) {
        const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".eml")).sort() : [];
        if (files.length > after) {
          const raw = readFileSync(join(dir, files[files.length - 1]), "utf8");
          return { count: files.length, text: raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=") };
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("no mail arrived");
    },
    /** Every mail so far, decoded, oldest first. */
    mails() {
      const dir = join(dataDir, "mailbox");
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".eml")).sort() : [];
      return files.map((f) => readFileSync(join(dir, f), "utf8").replace(/=\r?\n/g, "").replace(/=3D/g, "="));
    },
    mailCount() {
      const dir = join(dataDir, "mailbox");
      return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".eml")).length : 0;
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A browser context that fails the test on console errors and uncaught exceptions. */
export async function newUser(browser, name, errors, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  page.on("console", (m) => {
    // A refused refresh before signing in is expected (401); anything else is a bug.
    if (m.type() === "error" && !/401|Failed to load resource/.test(m.text())) errors.push(`${name}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
  // E2E_WS_LOG=1 prints every WebSocket frame (debugging a failure).
  if (process.env.E2E_WS_LOG) {
    page.on("websocket", (ws) => {
      console.log(`${name} ws open`);
      ws.on("framesent", (f) => console.log(`${name} > ${String(f.payload).slice(0, 160)}`));
      ws.on("framereceived", (f) => console.log(`${name} < ${String(f.payload).slice(0, 160)}`));
      ws.on("close", () => console.log(`${name} ws closed`));
    });
  }
  return { context, page };
}

/** A screenshot of `page` in the light and the dark theme, saved as test artifacts. */
export async function shot(page, name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(artifacts, `${name}-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** The message box and the message list of the open conversation. */
export const composer = (page) => page.getByRole("textbox", { name: /^Message/ });
export const messageList = (page) => page.getByRole("log", { name: "Messages" });
