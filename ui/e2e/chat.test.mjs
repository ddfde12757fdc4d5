// End to end: two people in two browser contexts against the real binary (SPEC issue 10, Tests).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as OTPAuth from "otpauth";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { crc32, deflateSync } from "node:zlib";
import { startServer, launchBrowser, newUser, artifacts, shot, composer, messageList } from "./harness.mjs";

/** A `w`×`h` PNG with a colour gradient, encoded here (no image library needed). */
function png(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * (w * 3 + 1) + 1 + x * 3;
      rows[i] = 79 + Math.round((x / w) * 120);
      rows[i + 1] = 70 + Math.round((y / h) * 120);
      rows[i + 2] = 229;
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let server;
let browser;
const errors = [];
let alice; // the owner
let bob; // invited
const password = "correct horse battery";

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  alice = await newUser(browser, "alice", errors);
  bob = await newUser(browser, "bob", errors);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});


test("the owner sets up CoLink in the browser", async () => {
  const { page } = alice;
  await page.goto(`${server.base}/`);
  await page.waitForURL(/\/setup$/);
  await shot(page, "setup-empty");
  await page.goto(`${server.base}/setup?token=${server.setupToken}`);
  await page.getByLabel("Workspace name").fill("Acme");
  await page.getByLabel("Your email").fill("alice@example.com");
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.waitForURL(/\/w\/[^/]+\/c\/[^/]+$/);
  await assert.doesNotReject(page.getByRole("heading", { name: "general", exact: true }).waitFor());
});

let inviteUrl;
test("the owner creates an invite link and a second person registers with it", async () => {
  await alice.page.getByRole("button", { name: "Invite people" }).click();
  await alice.page.getByRole("button", { name: "Create invite link" }).click();
  inviteUrl = await alice.page.getByLabel("Invite link").inputValue();
  assert.match(inviteUrl, /\/invite\/.+/);
  await alice.page.getByRole("button", { name: "Close" }).click();

  const { page } = bob;
  await page.goto(inviteUrl);
  await page.getByLabel("Email").fill("bob@example.com");
  await page.getByLabel("Full name").fill("Bob Builder");
  await page.getByLabel("Username").fill("bob");
  await page.getByLabel("Password").fill(password);
  await shot(page, "register");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/w\/[^/]+\/c\/[^/]+$/);
  await page.getByRole("heading", { name: "general", exact: true }).waitFor();
});

test("a message typed by one appears for the other without a reload, with typing shown first", async () => {
  await composer(bob.page).pressSequentially("hel", { delay: 20 });
  await alice.page.getByText("Bob Builder is typing…").waitFor();
  await composer(bob.page).fill("");

  await composer(alice.page).fill("Hello **Bob**, glad you are here :tada:");
  await composer(alice.page).press("Enter");
  const seen = messageList(bob.page).getByText("glad you are here");
  await seen.waitFor();
  assert.equal(await messageList(bob.page).locator("strong", { hasText: "Bob" }).count(), 1);
  assert.equal(await messageList(bob.page).locator(".msg-content .emoji", { hasText: "🎉" }).count(), 1);

  await composer(bob.page).fill("Thanks @alice!");
  await composer(bob.page).press("Enter");
  await messageList(alice.page).getByText("Thanks").waitFor();
  // Alice's own mention is highlighted.
  await messageList(alice.page).locator(".mention-me", { hasText: "@alice" }).waitFor();
});

test("reaction counts update for both", async () => {
  const msg = messageList(alice.page).locator("article", { hasText: "Thanks" });
  await msg.hover();
  await msg.getByRole("button", { name: "React with 👍" }).click();
  await messageList(bob.page).getByRole("button", { name: "👍 1" }).waitFor();
  const bobMsg = messageList(bob.page).locator("article", { hasText: "Thanks" });
  await bobMsg.getByRole("button", { name: "👍 1" }).click();
  await messageList(alice.page).getByRole("button", { name: "👍 2, including you" }).waitFor();
  await messageList(bob.page).getByRole("button", { name: "👍 2, including you" }).waitFor();
  await shot(alice.page, "channel");
});

test("a thread reply shows in the thread and as a reply count for both", async () => {
  const root = messageList(bob.page).locator("article", { hasText: "glad you are here" });
  await root.hover();
  await root.getByRole("button", { name: "Reply in thread" }).click();
  const thread = bob.page.getByRole("complementary", { name: "Thread" });
  await thread.getByRole("textbox", { name: "Reply…" }).fill("Replying in the thread");
  await thread.getByRole("textbox", { name: "Reply…" }).press("Enter");
  await thread.getByText("Replying in the thread").waitFor();
  // The reply stays out of the channel; the root shows the count, for Alice too.
  await messageList(alice.page).getByRole("button", { name: /^1 reply/ }).click();
  await alice.page.getByRole("complementary", { name: "Thread" }).getByText("Replying in the thread").waitFor();
  assert.equal(await messageList(alice.page).getByText("Replying in the thread").count(), 0);
  await shot(alice.page, "thread");
  await alice.page.getByRole("button", { name: "Close thread" }).click();
  await bob.page.getByRole("button", { name: "Close thread" }).click();
});

test("pinning shows the message in the pinned panel", async () => {
  const msg = messageList(alice.page).locator("article", { hasText: "glad you are here" });
  await msg.hover();
  await msg.getByRole("button", { name: "Pin" }).click();
  await messageList(bob.page).locator("article", { hasText: "glad you are here" }).getByText("Pinned").waitFor();
  await bob.page.getByRole("button", { name: "Pinned messages" }).click();
  await bob.page.getByRole("complementary", { name: "Pinned messages" }).getByText("glad you are here").waitFor();
  await bob.page.getByRole("button", { name: "Close pinned messages" }).click();
});

test("files: attached with progress, previewed for the other, opened in a lightbox, listed in the files panel, downloaded", async () => {
  const { page } = alice;
  await page.getByLabel("Choose files").setInputFiles([
    { name: "chart.png", mimeType: "image/png", buffer: png(640, 400) },
    { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("Minutes of the meeting\n") },
  ]);
  const chips = page.getByRole("list", { name: "Attachments" });
  await chips.getByText("chart.png").waitFor();
  // Each chip shows its size once its upload is confirmed.
  await chips.locator(".attach-chip", { hasText: "notes.txt" }).getByText("23 B").waitFor();
  await chips.locator(".attach-chip", { hasText: "chart.png" }).getByText(/KB$/).waitFor();
  await composer(page).fill("Here are the files");
  await composer(page).press("Enter");
  await assert.equal(await chips.count(), 0);

  const bobMsg = messageList(bob.page).locator("article", { hasText: "Here are the files" });
  const preview = bobMsg.getByRole("button", { name: "Open chart.png" });
  await preview.locator("img").waitFor();
  await bobMsg.getByText("notes.txt").waitFor();
  await shot(bob.page, "files-message");
  await preview.click();
  const lightbox = bob.page.getByRole("dialog", { name: "chart.png" });
  await lightbox.locator("img").waitFor();
  await lightbox.getByText("640 × 400").waitFor();
  await shot(bob.page, "files-lightbox");
  await lightbox.getByRole("button", { name: "Close" }).click();

  await bob.page.getByRole("button", { name: "Files", exact: true }).click();
  const panel = bob.page.getByRole("complementary", { name: "Files" });
  await panel.getByText("chart.png").waitFor();
  await panel.getByText("notes.txt").waitFor();
  await shot(bob.page, "files-panel");
  const [download] = await Promise.all([bob.page.waitForEvent("download"), panel.getByRole("button", { name: "Download notes.txt" }).click()]);
  assert.equal(download.suggestedFilename(), "notes.txt");
  await bob.page.getByRole("button", { name: "Close files" }).click();

  // Dropped on the conversation: attached the same way.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["dropped text\n"], "dropped.txt", { type: "text/plain" }));
    const target = document.querySelector("section.channel");
    target.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await chips.locator(".attach-chip", { hasText: "dropped.txt" }).getByText("13 B").waitFor();
  await page.getByRole("button", { name: "Send" }).click();
  await messageList(bob.page).locator("article", { hasText: "📎 dropped.txt" }).getByText("dropped.txt", { exact: true }).waitFor();
});

test("a private channel with someone added, and a direct message, appear live in their sidebar", async () => {
  const a = alice.page;
  await a.getByRole("button", { name: "Create a channel" }).click();
  await a.getByLabel("Name").fill("secret-plans");
  await a.getByText("Make private").click();
  await a.getByRole("button", { name: "Create", exact: true }).click();
  await a.getByRole("heading", { name: "secret-plans", exact: true }).waitFor();
  await a.getByRole("button", { name: /^Members/ }).click();
  await a.getByRole("button", { name: "Add people" }).click();
  await a.getByLabel("Find people to add").fill("bob");
  await a.getByRole("button", { name: /Bob Builder/ }).click();
  await a.getByRole("button", { name: "Add", exact: true }).click();
  const bobNav = bob.page.getByRole("navigation", { name: "Conversations" });
  await bobNav.getByRole("link", { name: "secret-plans" }).waitFor();

  await a.getByRole("button", { name: "New message" }).click();
  await a.getByLabel("Find people").fill("bob");
  await a.getByRole("button", { name: /Bob Builder/ }).click();
  await a.getByRole("button", { name: "Open conversation" }).click();
  await a.getByRole("heading", { name: "Bob Builder", exact: true }).waitFor();
  await composer(a).fill("a direct hello");
  await composer(a).press("Enter");
  await messageList(a).getByText("a direct hello").waitFor().catch(async (e) => {
    await a.screenshot({ path: join(artifacts, "failed-dm.png") });
    throw e;
  });
  // Bob's sidebar lists the DM under Alice's name, unread until he opens it.
  const dm = bobNav.getByRole("link", { name: /alice/ });
  await dm.waitFor();
  await dm.click();
  await messageList(bob.page).getByText("a direct hello").waitFor();
  await shot(bob.page, "dm");
  await bobNav.getByRole("link", { name: "general" }).click();
  await a.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: "general" }).click();
});

test("Ctrl+K jumps to a conversation; the channel browser lists and joins public channels", async () => {
  const a = alice.page;
  await a.keyboard.press("Control+k");
  const box = a.getByRole("combobox", { name: "Conversation name" });
  await box.fill("secret");
  await shot(a, "quick-switcher");
  await box.press("Enter");
  await a.getByRole("heading", { name: "secret-plans", exact: true }).waitFor();

  // A public channel Bob is not in: he finds it in the browser and joins.
  await a.getByRole("button", { name: "Create a channel" }).click();
  await a.getByLabel("Name").fill("random");
  await a.getByRole("button", { name: "Create", exact: true }).click();
  await a.getByRole("heading", { name: "random", exact: true }).waitFor();
  const b = bob.page;
  await b.getByRole("button", { name: "Browse channels" }).click();
  const list = b.getByRole("dialog", { name: "Browse channels" });
  await list.getByText("random").waitFor();
  await shot(b, "browse-channels");
  await list.getByRole("button", { name: /random/ }).click();
  await b.getByRole("heading", { name: "random", exact: true }).waitFor();
  await b.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: "general" }).click();
  await a.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: "general" }).click();
});

test("reload keeps the session", async () => {
  await bob.page.reload();
  await bob.page.getByRole("heading", { name: "general", exact: true }).waitFor();
  await messageList(bob.page).getByText("glad you are here").waitFor();
});

test("unread and mention badges update live for conversations that are not open", async () => {
  // Bob (reloaded: a new socket, subscribed to nothing by the server) is in #general; Alice
  // writes in #secret-plans, which Bob is in but not looking at.
  const bobNav = bob.page.getByRole("navigation", { name: "Conversations" });
  await bob.page.getByRole("heading", { name: "general", exact: true }).waitFor();
  await alice.page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: "secret-plans" }).click();
  await alice.page.getByRole("heading", { name: "secret-plans", exact: true }).waitFor();
  assert.equal(await bob.page.locator("nav.sidebar a.side-item.unread", { hasText: "secret-plans" }).count(), 0, "read before");
  // A plain message (no mention: only a subscription brings it) marks it unread...
  await composer(alice.page).fill("the plan is ready");
  await composer(alice.page).press("Enter");
  await bob.page.locator("nav.sidebar a.side-item.unread", { hasText: "secret-plans" }).waitFor();
  // ...and a mention adds a badge.
  await composer(alice.page).fill("@bob have a look at the plan");
  await composer(alice.page).press("Enter");
  await bobNav.getByRole("link", { name: /secret-plans/ }).getByLabel("1 mentions").waitFor();
  await shot(bob.page, "sidebar-mention");
  await bobNav.getByRole("link", { name: /secret-plans/ }).click();
  await messageList(bob.page).getByText("have a look at the plan").waitFor();
  // Read: the badge is gone.
  assert.equal(await bobNav.getByRole("link", { name: /secret-plans/ }).getByLabel("1 mentions").count(), 0);
  await bobNav.getByRole("link", { name: "general" }).click();
  await alice.page.getByRole("navigation", { name: "Conversations" }).getByRole("link", { name: "general" }).click();
});

test("offline and back: each message sent meanwhile appears exactly once", async () => {
  await bob.context.setOffline(true);
  for (const n of [1, 2, 3]) {
    await composer(alice.page).fill(`while you were away ${n}`);
    await composer(alice.page).press("Enter");
  }
  await messageList(alice.page).getByText("while you were away 3").waitFor();
  // Bob's app saw the network go: no live delivery, it says so.
  await bob.page.getByText("You're offline").waitFor();
  assert.equal(await messageList(bob.page).getByText("while you were away").count(), 0);
  await bob.context.setOffline(false);
  for (const n of [1, 2, 3]) {
    await messageList(bob.page).getByText(`while you were away ${n}`).waitFor();
  }
  for (const n of [1, 2, 3]) {
    assert.equal(await messageList(bob.page).getByText(`while you were away ${n}`).count(), 1, `message ${n} once`);
  }
});

test("two-factor enrolment, then signing in with a TOTP code", async () => {
  const { page } = alice;
  await page.goto(`${server.base}/settings/security`);
  await page.getByLabel("Confirm with your password").fill(password);
  await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent())?.trim() ?? "";
  assert.ok(secret.length >= 16, "the secret is shown");
  await page.getByRole("img", { name: /QR code/ }).waitFor();
  await shot(page, "totp-enrol");
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
  await page.getByLabel("Code from the app").fill(totp.generate());
  await page.getByRole("button", { name: "Turn on" }).click();
  await page.getByRole("list", { name: "Recovery codes" }).waitFor();

  await page.goto(`${server.base}/`);
  await page.getByRole("button", { name: /account menu/ }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await page.waitForURL(/\/login/);
  await page.getByLabel("Username or email").fill("alice");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // A code is accepted once: the next 30-second step's code (within the server's ±1 step).
  await page.getByLabel("Authentication code").fill(totp.generate({ timestamp: Date.now() + 30_000 }));
  await shot(page, "login-totp");
  await page.getByRole("button", { name: "Verify" }).click();
  await page.waitForURL(/\/w\/[^/]+\/c\/[^/]+$/).catch(async (e) => {
    await page.screenshot({ path: join(artifacts, "failed-totp-login.png") });
    throw e;
  });
});

test("changing the password keeps this tab signed in and survives a reload", async () => {
  const { page } = bob;
  await page.goto(`${server.base}/settings/security`);
  await page.getByLabel("Current password").fill(password);
  await page.getByLabel("New password", { exact: true }).fill("a whole new passphrase");
  await page.getByLabel("Repeat the new password").fill("a whole new passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Your password was changed").waitFor();
  await page.reload();
  await page.getByRole("heading", { name: "Security" }).waitFor();
  // Every other session ended with the change: this browser's new one is the only one.
  const sessions = page.getByRole("list", { name: "Your sessions" });
  await sessions.getByText("This browser").waitFor();
  assert.equal(await sessions.getByRole("listitem").count(), 1);
  await page.goto(`${server.base}/`);
  await page.getByRole("heading", { name: "general", exact: true }).waitFor();
});

test("at 375 px the sidebar collapses into a menu", async () => {
  const { page } = bob;
  await page.setViewportSize({ width: 375, height: 740 });
  const sidebar = page.getByRole("navigation", { name: "Conversations" });
  await page.getByRole("button", { name: "Open the sidebar" }).waitFor();
  // Off screen (after its slide transition).
  await page.waitForFunction(() => {
    const nav = document.querySelector("nav.sidebar");
    return nav && nav.getBoundingClientRect().right <= 0;
  });
  assert.ok(await sidebar.isVisible(), "in the DOM, ready to slide in");
  await shot(page, "phone-channel");
  await page.getByRole("button", { name: "Open the sidebar" }).click();
  await page.waitForFunction(() => {
    const nav = document.querySelector("nav.sidebar");
    return nav && nav.getBoundingClientRect().x >= 0;
  });
  await shot(page, "phone-sidebar");
});

test("the verification link mailed at registration confirms the address", async () => {
  const link = server
    .mails()
    .map((m) => /https?:\/\/\S+\/verify-email\?token=[\w-]+/.exec(m)?.[0])
    .find(Boolean);
  assert.ok(link, "registration mailed a verification link");
  const visitor = await newUser(browser, "visitor", errors);
  await visitor.page.goto(link);
  await visitor.page.getByRole("heading", { name: "Email confirmed" }).waitFor();
  await visitor.context.close();
});

test("forgot password: the mailed link sets a new password, which signs in", async () => {
  const visitor = await newUser(browser, "visitor", errors);
  const page = visitor.page;
  await page.goto(`${server.base}/login`);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  const before = server.mailCount();
  await page.getByLabel("Email").fill("bob@example.com");
  await page.getByRole("button", { name: "Send reset link" }).click();
  await page.getByRole("heading", { name: "Check your inbox" }).waitFor();
  const mail = await server.newestMail(before);
  const link = /https?:\/\/\S+\/reset-password\?token=[\w-]+/.exec(mail.text)?.[0];
  assert.ok(link, "the mail has a reset link");
  await page.goto(link);
  await page.getByLabel("New password").fill("reset passphrase 2026");
  await page.getByLabel("Repeat it").fill("reset passphrase 2026");
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByRole("heading", { name: "Password changed" }).waitFor();
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Username or email").fill("bob");
  await page.getByLabel("Password").fill("reset passphrase 2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/w\/[^/]+\/c\/[^/]+$/);
  await visitor.context.close();
});

/** axe-core's serious and critical violations on the page as it is now. */
async function axeViolations(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")})`);
  });
  return result;
}

test("search finds a message by another form of a word, completes from:, highlights, and opens the conversation at it", async () => {
  // Bob's sessions ended with the password reset above: Alice searches.
  const { page } = alice;
  await page.goto(`${server.base}/`);
  await page.waitForURL(/\/w\/[^/]+\/c\/[^/]+$/);
  await page.keyboard.press("Control+Shift+F");
  const panel = page.getByRole("complementary", { name: "Search" });
  const box = panel.getByRole("combobox", { name: "Search messages" });
  await box.fill("gladly from:al");
  await panel.getByRole("option", { name: "@alice" }).waitFor();
  await box.press("Enter");
  assert.equal(await box.inputValue(), "gladly from:@alice ");
  await box.press("Enter");
  await panel.getByText("1 result", { exact: true }).waitFor();
  await panel.locator("mark", { hasText: "glad" }).waitFor();
  await shot(page, "search");
  await panel.getByRole("button", { name: /glad you are here/ }).click();
  await page.waitForURL(/[?&]m=/);
  await messageList(page).locator("article.focused", { hasText: "glad you are here" }).waitFor();
  await page.setViewportSize({ width: 375, height: 740 });
  await shot(page, "search-phone");
  await page.setViewportSize({ width: 1280, height: 800 });
  await panel.getByRole("button", { name: "Close search" }).click();
});

test("no serious accessibility violations (axe) on the main screens, in both themes", async () => {
  const found = [];
  for (const scheme of ["light", "dark"]) {
    await alice.page.emulateMedia({ colorScheme: scheme });
    found.push(...(await axeViolations(alice.page)).map((v) => `channel/${scheme}: ${v}`));
  }
  const visitor = await newUser(browser, "visitor", errors);
  await visitor.page.goto(`${server.base}/login`);
  await visitor.page.getByLabel("Username or email").waitFor();
  found.push(...(await axeViolations(visitor.page)).map((v) => `login: ${v}`));
  await visitor.page.goto(`${server.base}/settings/profile`);
  await visitor.context.close();
  assert.deepEqual(found, []);
});

test("no console errors", () => {
  assert.deepEqual(errors, []);
});
