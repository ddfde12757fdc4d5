// End to end: the admin console against the real binary (issue 14, Tests). An owner, two members
// in three browser contexts; every admin action is checked where its effect shows: in another
// person's browser, and in the audit log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { startServer, launchBrowser, newUser, shot, composer, messageList } from "./harness.mjs";

let server;
let browser;
const errors = [];
const password = "correct horse battery";
let ann; // the owner
let ben; // a member
let cat; // a member
let ws; // the workspace
let tokens = {}; // access tokens by username, for seeding through the API

async function api(path, { token, method = "GET", body } = {}) {
  const res = await fetch(`${server.base}/api/v1${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function signIn(page, username) {
  await page.goto(`${server.base}/login`);
  await page.getByLabel("Username or email").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/w\/[^/]+\/c\/[^/]+$/);
}

/**
 * The 29 days before today in the rollups the charts read (today comes from real messages):
 * the data of a workspace that has been running for a month.
 */
function seedHistory(channelId, userIds) {
  const script = `
import sqlite3, sys, datetime, uuid, math
db = sqlite3.connect(sys.argv[1], timeout=10)
channel = uuid.UUID(sys.argv[2]).bytes
users = [uuid.UUID(u).bytes for u in sys.argv[3:]]
today = datetime.datetime.now(datetime.timezone.utc).date()
for ago in range(1, 30):
    day = (today - datetime.timedelta(days=ago)).isoformat()
    weekday = (today - datetime.timedelta(days=ago)).weekday()
    count = 0 if weekday >= 5 else 40 + int(25 * math.sin(ago / 3)) + (29 - ago) * 3
    db.execute("INSERT INTO message_counts (day, channel_id, count) VALUES (?, ?, ?)", (day, channel, count))
    active = users if weekday < 5 else users[:1]
    for u in active[: max(1, len(active) - ago % 2)]:
        db.execute("INSERT OR IGNORE INTO active_days (day, user_id) VALUES (?, ?)", (day, u))
db.commit()
`;
  execFileSync("python3", ["-c", script, join(server.dataDir, "colink.db"), channelId, ...userIds]);
}

before(async () => {
  // Several people register from this one address.
  server = await startServer({ COLINK_LIMITS__REGISTER_PER_IP__MAX: "50" });
  browser = await launchBrowser();
  const setup = await api("/setup", { method: "POST", body: { setup_token: server.setupToken, workspace_name: "Acme", email: "ann@example.com", username: "ann", password } });
  assert.equal(setup.status, 201, JSON.stringify(setup.body));
  ws = setup.body.workspace.id;
  tokens.ann = setup.body.tokens.access_token;
  for (const name of ["ben", "cat"]) {
    const invite = await api(`/workspaces/${ws}/invites`, { token: tokens.ann, method: "POST", body: {} });
    const reg = await api("/auth/register", { method: "POST", body: { email: `${name}@example.com`, username: name, password, display_name: name === "ben" ? "Ben Okafor" : "Cat Novak", invite_token: invite.body.token } });
    assert.ok(reg.status < 300, JSON.stringify(reg.body));
  }
  ann = await newUser(browser, "ann", errors, { viewport: { width: 1280, height: 1000 } });
  ben = await newUser(browser, "ben", errors);
  cat = await newUser(browser, "cat", errors);
  await signIn(ann.page, "ann");
  await signIn(ben.page, "ben");
  await signIn(cat.page, "cat");
});

after(async () => {
  await browser?.close();
  await server?.stop();
});


test("a member opening /admin sees the 403 page and no admin request succeeds", async () => {
  const { page } = ben;
  const adminAnswers = [];
  const listen = (r) => {
    if (r.url().includes("/api/v1/admin")) adminAnswers.push(r.status());
  };
  page.on("response", listen);
  await page.goto(`${server.base}/admin`);
  await page.getByRole("heading", { name: "Admins only" }).waitFor();
  await page.goto(`${server.base}/admin/people`);
  await page.getByRole("heading", { name: "Admins only" }).waitFor();
  page.off("response", listen);
  assert.deepEqual(adminAnswers.filter((s) => s < 400), [], "no admin request succeeded");
  await shot(page, "admin-403");
  // The server refuses them anyway.
  const login = await api("/auth/login", { method: "POST", body: { login: "ben", password } });
  assert.equal((await api("/admin/stats", { token: login.body.access_token })).status, 403);
  // Members do not get the console in their menu; admins do.
  await page.goto(`${server.base}/`);
  await page.locator(".me-button").click();
  await page.getByRole("menuitem", { name: "Sign out" }).waitFor();
  assert.equal(await page.getByRole("menuitem", { name: "Admin console" }).count(), 0);
  await page.locator(".me-button").click();
  await ann.page.locator(".me-button").click();
  await ann.page.getByRole("menuitem", { name: "Admin console" }).click();
  await ann.page.getByRole("heading", { name: "Overview" }).waitFor();
});

test("the overview shows live counters and charts drawn from a month of data", async () => {
  const general = (await api("/conversations?limit=50", { token: tokens.ann })).body.items.find((c) => c.name === "general");
  const me = (id) => api("/users/me", { token: id }).then((r) => r.body.id);
  const ids = [await me(tokens.ann)];
  for (const name of ["ben", "cat"]) {
    const login = await api("/auth/login", { method: "POST", body: { login: name, password } });
    tokens[name] = login.body.access_token;
    ids.push(await me(tokens[name]));
  }
  seedHistory(general.id, ids);
  for (let i = 0; i < 12; i++) await api(`/channels/${general.id}/messages`, { token: tokens[i % 2 ? "ben" : "cat"], method: "POST", body: { content: `Standup note ${i + 1}` } });
  const { page } = ann;
  await page.goto(`${server.base}/admin`);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  // Both charts are drawn (uPlot canvases), and their numbers are there for screen readers.
  await page.locator(".chart canvas").nth(1).waitFor();
  assert.equal(await page.locator(".chart canvas").count(), 2);
  const today = await page.locator(".stat", { hasText: "Messages today" }).locator(".stat-value").innerText();
  assert.ok(Number(today.replace(/\D/g, "")) >= 12, today);
  // Everyone signed in today counts as active today (the admin's read stores pending activity).
  assert.match(await page.locator(".stat", { hasText: "People" }).innerText(), /3 active today/);
  await page.getByText(/connected clients/).waitFor();
  await page.locator(".backends li").first().waitFor();
  assert.match(await page.locator(".top-channels").innerText(), /general/);
  await shot(page, "admin-overview");
  await page.setViewportSize({ width: 375, height: 740 });
  await page.locator(".chart canvas").nth(1).waitFor();
  await shot(page, "admin-overview-phone");
  await page.setViewportSize({ width: 1280, height: 1000 });
});

test("a report filed from the message menu appears in the queue and delete removes the message for everyone", async () => {
  await composer(ben.page).fill("Buy cheap watches at spam.example");
  await composer(ben.page).press("Enter");
  const spam = messageList(cat.page).locator("article", { hasText: "Buy cheap watches" });
  await spam.waitFor();
  await spam.hover();
  await spam.getByRole("button", { name: "Report message" }).click();
  await cat.page.getByLabel("What's wrong with it?").fill("Spam");
  await cat.page.getByRole("button", { name: "Report to admins" }).click();
  await cat.page.getByText(/The admins will take a look/).waitFor();
  await cat.page.getByRole("button", { name: "Done" }).click();

  const { page } = ann;
  await page.goto(`${server.base}/admin/moderation`);
  const entry = page.locator(".queue-item", { hasText: "Buy cheap watches" });
  await entry.waitFor();
  assert.match(await entry.innerText(), /Spam/);
  // The conversation around it is shown, the reported line marked.
  await entry.locator(".context li.reported").waitFor();
  await shot(page, "admin-queue");
  await entry.getByRole("button", { name: "Delete message" }).click();
  await page.getByRole("heading", { name: "All clear" }).waitFor();
  for (const p of [ben.page, cat.page]) {
    await messageList(p).locator("article", { hasText: "Buy cheap watches" }).waitFor({ state: "detached" });
  }
});

test("a rule added in the editor blocks a message typed in another context", async () => {
  const { page } = ann;
  await page.goto(`${server.base}/admin/moderation/rules`);
  // Validation errors show inline.
  await page.getByLabel("Kind").selectOption("regex");
  await page.getByLabel(/Pattern/).fill("(?=look-ahead)");
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.locator(".field-error").waitFor();
  await page.getByLabel("Kind").selectOption("literal");
  await page.getByLabel("Words to look for").fill("forbidden fruit");
  await page.getByLabel("Then").selectOption("block");
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.locator(".rules li", { hasText: "forbidden fruit" }).waitFor();
  await page.getByLabel("Message to test").fill("Who wants some Forbidden Fruit?");
  await page.getByRole("status").filter({ hasText: "blocked" }).waitFor();
  await shot(page, "admin-rules");

  await composer(ben.page).fill("forbidden fruit for everyone");
  await composer(ben.page).press("Enter");
  await ben.page.getByRole("alert").filter({ hasText: /moderation rule/ }).waitFor();
  // A message sent after it arrives; the blocked one never did.
  await composer(ben.page).fill("a perfectly fine message");
  await composer(ben.page).press("Enter");
  await messageList(cat.page).getByText("a perfectly fine message").waitFor();
  assert.equal(await messageList(cat.page).getByText("forbidden fruit for everyone").count(), 0);
});

test("suspending someone signs their open browser out within seconds", async () => {
  const { page } = ann;
  await page.goto(`${server.base}/admin/people`);
  await page.getByLabel("Search people").fill("cat");
  await page.getByRole("link", { name: /Cat Novak/ }).click();
  await page.getByRole("heading", { name: "Sessions" }).waitFor();
  await shot(page, "admin-person");
  await page.getByRole("button", { name: "Suspend…" }).click();
  await page.getByText(/signed out everywhere at once/).waitFor();
  await page.getByLabel(/Reason/).fill("Posting spam");
  const started = Date.now();
  await page.getByRole("button", { name: "Suspend", exact: true }).click();
  await cat.page.waitForURL(/\/login/, { timeout: 5_000 });
  assert.ok(Date.now() - started < 5_000);
  await page.locator(".tag", { hasText: "suspended" }).first().waitFor();
});

test("the audit page shows each of these actions", async () => {
  const { page } = ann;
  await page.goto(`${server.base}/admin/audit`);
  for (const action of ["user.suspended", "moderation.rule_added", "moderation.message_deleted", "auth.login_succeeded"]) {
    await page.locator(".action-code", { hasText: action }).first().waitFor();
  }
  await page.getByLabel("Action").selectOption("user.suspended");
  await page.waitForFunction(() => [...document.querySelectorAll(".action-code")].every((c) => c.textContent === "user.suspended"));
  assert.match(await page.locator(".audit-table tbody").innerText(), /Posting spam/);
  // Narrowed to its target: everything about Cat.
  await page.getByLabel("Action").selectOption("");
  await page.locator(".audit-table .target-btn", { hasText: "Cat Novak" }).first().click();
  await page.getByRole("button", { name: "Clear the target filter" }).waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll(".audit-table tbody tr")].every((r) => r.textContent.includes("Cat Novak")));
  await page.getByRole("button", { name: "Clear the target filter" }).click();
  await page.getByLabel("Action").selectOption("user.suspended");
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export CSV" }).click();
  const file = await download;
  assert.match(file.suggestedFilename(), /\.csv$/);
  await page.getByLabel("Action").selectOption("");
  await shot(page, "admin-audit");
});

test("invite links and bots are made, shown once, and revoked from the console", async () => {
  const { page } = ann;
  await page.goto(`${server.base}/admin/people/invites`);
  await page.getByLabel("Can be used").selectOption("1");
  await page.getByRole("button", { name: "Create link" }).click();
  const link = await page.getByLabel("Invite link").inputValue();
  const token = link.split("/invite/")[1];
  const joined = await api("/auth/register", { method: "POST", body: { email: "dan@example.com", username: "dan", password, invite_token: token } });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  await page.reload();
  await page.locator("tr", { hasText: "1 of 1" }).getByText("used up").waitFor();
  const rows = await page.locator("tbody tr").count();
  await page.getByRole("button", { name: "Create link" }).click();
  await page.waitForFunction((n) => document.querySelectorAll("tbody tr").length === n + 1, rows);
  const second = (await page.getByLabel("Invite link").inputValue()).split("/invite/")[1];
  // The newest link is listed first.
  await page.getByRole("button", { name: "Revoke…" }).first().click();
  await page.getByRole("button", { name: /Revoke: nobody can join/ }).click();
  await page.locator(".tag", { hasText: "revoked" }).waitFor();
  const refused = await api("/auth/register", { method: "POST", body: { email: "eve@example.com", username: "eve", password, invite_token: second } });
  assert.equal(refused.status, 410);
  await shot(page, "admin-invites");

  await page.goto(`${server.base}/admin/people/bots`);
  await page.getByLabel("Name", { exact: true }).fill("Deploy bot");
  await page.getByLabel("Username", { exact: true }).fill("deploy-bot");
  await page.getByRole("button", { name: "Create bot" }).click();
  const secret = await page.locator(".shown-once input").inputValue();
  const clientId = (await page.locator(".shown-once label").innerText()).match(/client id (\S+),/)[1];
  const grant = (s) => api("/auth/token", { method: "POST", body: { grant_type: "client_credentials", client_id: clientId, client_secret: s } });
  assert.equal((await grant(secret)).status, 200);
  await page.getByRole("button", { name: "Rotate secret…" }).click();
  await page.getByRole("button", { name: /New secret: the old one stops working/ }).click();
  await page.waitForFunction((old) => document.querySelector(".shown-once input")?.value !== old, secret);
  const rotated = await page.locator(".shown-once input").inputValue();
  assert.equal((await grant(secret)).status, 401);
  assert.equal((await grant(rotated)).status, 200);
  await shot(page, "admin-bots");
});

test("channels are listed with their counts, renamed, archived and brought back from the console", async () => {
  const made = await api(`/channels`, { token: tokens.ann, method: "POST", body: { workspace_id: ws, name: "release-notes", kind: "public" } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const { page } = ann;
  await page.goto(`${server.base}/admin/channels`);
  const row = () => page.locator("tr", { hasText: /release-(notes|log)/ });
  await row().waitFor();
  // The workspaces with their numbers; picking one shows only its channels.
  const acme = page.getByRole("region", { name: "Workspaces" }).locator("tr", { hasText: "Acme" });
  assert.match(await acme.innerText(), /Acme\s+\d+\s+\d+/);
  await acme.getByRole("button", { name: "Acme" }).click();
  await row().waitFor();
  // Members: add someone, then move them to another channel (added there, removed here).
  const lounge = await api(`/channels`, { token: tokens.ann, method: "POST", body: { workspace_id: ws, name: "lounge" } });
  await row().getByRole("button", { name: "Members…" }).click();
  const dialog = page.getByRole("dialog", { name: /Members of #release-notes/ });
  await dialog.getByLabel("Add someone").fill("ben");
  await dialog.getByRole("button", { name: /Ben Okafor/ }).click();
  await dialog.getByLabel("Select Ben Okafor").waitFor();
  await shot(page, "admin-channel-members");
  await dialog.getByLabel("Select Ben Okafor").check();
  await dialog.getByLabel("Move to").selectOption(lounge.body.id);
  await dialog.getByRole("button", { name: "Move", exact: true }).click();
  await dialog.getByLabel("Select Ben Okafor").waitFor({ state: "detached" });
  const inLounge = await api(`/channels/${lounge.body.id}/members`, { token: tokens.ann });
  assert.ok(inLounge.body.items.some((m) => m.username === "ben"), JSON.stringify(inLounge.body));
  const inNotes = await api(`/channels/${made.body.id}/members`, { token: tokens.ann });
  assert.ok(!inNotes.body.items.some((m) => m.username === "ben"), JSON.stringify(inNotes.body));
  await dialog.getByRole("button", { name: "Close" }).click();
  await row().getByRole("button", { name: "Rename…" }).click();
  await page.getByLabel("New name").fill("release-log");
  await page.getByRole("button", { name: "Rename", exact: true }).click();
  await page.locator("tr", { hasText: "release-log" }).waitFor();
  // Private, then public again, with what it means said first.
  await row().getByRole("button", { name: "Make private…" }).click();
  await page.getByText(/Everyone else in the workspace loses it at once/).waitFor();
  await page.getByRole("button", { name: "Make private", exact: true }).click();
  await row().getByRole("button", { name: "Make public…" }).waitFor();
  const asBen = await api("/auth/login", { method: "POST", body: { login: "ben", password } });
  assert.equal((await api(`/channels/${made.body.id}/messages`, { token: asBen.body.access_token })).status, 403);
  await row().getByRole("button", { name: "Make public…" }).click();
  await page.getByRole("button", { name: "Make public", exact: true }).click();
  await row().getByRole("button", { name: "Make private…" }).waitFor();
  assert.equal((await api(`/channels/${made.body.id}/messages`, { token: asBen.body.access_token })).status, 200);
  await row().getByRole("button", { name: "Archive…" }).click();
  await page.getByRole("button", { name: "Archive", exact: true }).click();
  await row().locator(".tag", { hasText: "archived" }).waitFor();
  const refused = await api(`/channels/${made.body.id}/messages`, { token: tokens.ann, method: "POST", body: { content: "x" } });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  await shot(page, "admin-channels");
  await row().getByRole("button", { name: "Unarchive…" }).click();
  await page.getByRole("button", { name: "Unarchive", exact: true }).click();
  await row().getByRole("button", { name: "Archive…" }).waitFor();
  const back = await api(`/channels/${made.body.id}/messages`, { token: tokens.ann, method: "POST", body: { content: "we are back" } });
  assert.equal(back.status, 201, JSON.stringify(back.body));
});

test("a run-time setting changed in the console takes effect without a restart", async () => {
  const register = (name) => api("/auth/register", { method: "POST", body: { email: `${name}@example.com`, username: name, password } });
  assert.equal((await register("fay")).status, 403, "invite-only to start with");
  const { page } = ann;
  await page.goto(`${server.base}/admin/settings`);
  await page.getByLabel("Find a setting").fill("registration");
  const row = page.locator(".setting", { hasText: "auth.registration" });
  await row.getByText(/Who may create an account/).waitFor();
  await row.getByLabel("auth.registration").selectOption("open");
  await row.getByRole("button", { name: "Save" }).click();
  await row.locator(".tag", { hasText: "changed here" }).waitFor();
  assert.equal((await register("fay")).status, 201, "open now, same server, no restart");
  // A value the configuration would refuse is refused inline.
  await page.getByLabel("Find a setting").fill("register_per_ip");
  const limit = page.locator(".setting", { hasText: "limits.register_per_ip" });
  await limit.getByLabel("limits.register_per_ip.max").fill("0");
  await limit.getByRole("button", { name: "Save" }).click();
  await limit.getByRole("alert").waitFor();
  await page.getByLabel("Find a setting").fill("");
  await shot(page, "admin-settings");
  await page.getByLabel("Find a setting").fill("registration");
  await row.getByRole("button", { name: "Reset" }).click();
  await row.locator(".tag", { hasText: "changed here" }).waitFor({ state: "detached" });
  assert.equal((await register("gus")).status, 403);
});

test("no console errors", () => {
  assert.deepEqual(errors, []);
});
