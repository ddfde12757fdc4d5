// End to end: signing in with an identity provider (issue 16, OIDC). A real OpenID Connect
// provider dressed as a Keycloak realm (scripts/backends/oidc-provider, the npm package
// oidc-provider) and the real binary; Chromium clicks "Continue with Keycloak", fills the
// provider's login form, lands in the app as a new account, and signs out of both.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startServer, launchBrowser, newUser, shot, freePort } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let server;
let browser;
let idp;
let idpDir;
const errors = [];
const password = "correct horse battery";

/** Start the provider on `port`, accepting CoLink at `base` as client `colink-web`. */
async function startProvider(port, base) {
  const script = execFileSync(resolve(here, "../../scripts/backends/oidc.sh"), ["path"], { encoding: "utf8" }).trim();
  idpDir = mkdtempSync(join(tmpdir(), "colink-idp-"));
  const accounts = {
    alice: {
      sub: "kc-alice",
      email: "alice@example.com",
      email_verified: true,
      preferred_username: "alice",
      name: "Alice Moreau",
      realm_access: { roles: ["user"] },
      password,
    },
  };
  writeFileSync(join(idpDir, "accounts.json"), JSON.stringify(accounts));
  const child = spawn(
    "node",
    [script, "--port", String(port), "--accounts", join(idpDir, "accounts.json"), "--keys", join(idpDir, "keys.json"),
      "--redirect-uri", `${base}/api/v1/auth/oidc/keycloak/callback`, "--redirect-uri", `${base}/login`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout });
  await new Promise((ok, fail) => {
    child.once("exit", (code) => fail(new Error(`oidc-provider exited with ${code}`)));
    lines.on("line", (line) => line.startsWith("oidc-provider ready") && ok());
  });
  return child;
}

before(async () => {
  const idpPort = await freePort();
  server = await startServer({}, {
    configToml: `
[auth.oidc]
[[auth.oidc.providers]]
name = "keycloak"
display_name = "Acme SSO"
issuer = "http://127.0.0.1:${idpPort}/realms/colink"
client_id = "colink-web"
roles_claim = "realm_access.roles"
`,
  });
  idp = await startProvider(idpPort, server.base);
  browser = await launchBrowser();
  const setup = await fetch(`${server.base}/api/v1/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ setup_token: server.setupToken, workspace_name: "Acme", email: "ann@example.com", username: "ann", password }),
  });
  assert.equal(setup.status, 201);
});

after(async () => {
  await browser?.close();
  idp?.kill("SIGTERM");
  await server?.stop();
  if (idpDir) rmSync(idpDir, { recursive: true, force: true });
});

test("a new colleague continues with the company's sign-in and lands in the workspace", async () => {
  const { context, page } = await newUser(browser, "alice", errors);
  await page.goto(`${server.base}/login`);
  const sso = page.getByRole("link", { name: "Continue with Acme SSO" });
  await sso.waitFor();
  // The password form is still offered, below the provider.
  await page.getByLabel("Username or email").waitFor();
  await shot(page, "sso-login");

  await sso.click();
  // The provider's own login page.
  await page.waitForURL(/\/realms\/colink\/interaction\//);
  await page.locator("#username").fill("alice");
  await page.locator("#password").fill(password);
  await page.locator("#kc-login").click();

  // Back in CoLink, signed in as a new member of the default workspace.
  await page.waitForURL(/\/w\/[^/]+\/c\/[^/]+$/);
  await page.getByRole("button", { name: /account menu/ }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).waitFor();
  await shot(page, "sso-signed-in");
  await context.close();
});

test("a refused sign-in is explained on the sign-in page, at phone width too", async () => {
  const { context, page } = await newUser(browser, "visitor", errors, { viewport: { width: 390, height: 800 } });
  await page.goto(`${server.base}/login?sso_error=sso_no_account`);
  await page.getByRole("alert").filter({ hasText: "no account for you here yet" }).waitFor();
  await page.getByRole("link", { name: "Continue with Acme SSO" }).waitFor();
  await shot(page, "sso-refused-phone");
  await context.close();
});

test("signing out ends the provider's session too", async () => {
  const { context, page } = await newUser(browser, "alice-again", errors);
  await page.goto(`${server.base}/login`);
  await page.getByRole("link", { name: "Continue with Acme SSO" }).click();
  await page.waitForURL(/\/realms\/colink\/interaction\//);
  await page.locator("#username").fill("alice");
  await page.locator("#password").fill(password);
  await page.locator("#kc-login").click();
  await page.waitForURL(/\/w\/[^/]+\/c\/[^/]+$/);

  await page.getByRole("button", { name: /account menu/ }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  // Through the provider's logout, back to the sign-in page.
  await page.waitForURL(`${server.base}/login**`);
  // The provider forgot the person: continuing asks for the password again.
  await page.getByRole("link", { name: "Continue with Acme SSO" }).click();
  await page.waitForURL(/\/realms\/colink\/interaction\//);
  await page.locator("#username").waitFor();
  await context.close();
});

test("no console errors", () => {
  assert.deepEqual(errors, []);
});
