import { useState } from "react";
import { Link, useLocation } from "wouter";
import { encode } from "uqr";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { session } from "../api/session";
import { signIn } from "../auth/signIn";
import { useProviders } from "../auth/Login";
import { Field, FormError, useSubmit } from "../components/Form";
import { Avatar } from "../components/Avatar";
import { EmojiPicker } from "../channel/EmojiPicker";
import { keys, useMe } from "../store/data";
import { queryClient } from "../queryClient";

const SECTIONS = [
  ["profile", "Profile & status"],
  ["security", "Security & sessions"],
  ["notifications", "Notifications"],
] as const;

export function Settings({ section }: { section: string }) {
  const [, navigate] = useLocation();
  return (
    <div className="settings">
      <nav className="settings-nav" aria-label="Settings">
        <button className="btn small" onClick={() => navigate("/")}>
          ← Back to chat
        </button>
        {SECTIONS.map(([id, label]) => (
          <Link key={id} href={`/settings/${id}`} className={id === section ? "side-item active" : "side-item"} aria-current={id === section ? "page" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <main className="settings-main">
        {section === "security" ? <Security /> : section === "notifications" ? <Notifications /> : <Profile />}
      </main>
    </div>
  );
}

function Profile() {
  const { data: me } = useMe();
  const [name, setName] = useState<string | null>(null);
  const [statusText, setStatusText] = useState<string | null>(null);
  const [statusEmoji, setStatusEmoji] = useState<string | null>(null);
  const [expiry, setExpiry] = useState("0");
  const [picker, setPicker] = useState(false);
  const saveName = useSubmit(async () => {
    await call(api.PUT("/users/me", { body: { display_name: (name ?? "").trim() || null } }));
    await queryClient.invalidateQueries({ queryKey: keys.me });
  });
  const saveStatus = useSubmit(async () => {
    const hours = Number(expiry);
    await call(
      api.POST("/users/me/status", {
        body: { status_text: statusText ?? me?.status?.text ?? "", status_emoji: statusEmoji ?? me?.status?.emoji ?? "", expires_at: hours > 0 ? new Date(Date.now() + hours * 3_600_000).toISOString() : null },
      }),
    );
    await queryClient.invalidateQueries({ queryKey: keys.me });
  });
  const clearStatus = useSubmit(async () => {
    await call(api.POST("/users/me/status", { body: { status_text: "", status_emoji: "", expires_at: null } }));
    setStatusText("");
    setStatusEmoji("");
    await queryClient.invalidateQueries({ queryKey: keys.me });
  });
  if (!me) return null;
  const emoji = statusEmoji ?? me.status?.emoji ?? "";
  return (
    <>
      <h1>Profile</h1>
      <div className="profile-card">
        <Avatar userId={me.id} size={64} />
        <div>
          <div className="profile-name">{me.display_name || me.username}</div>
          <div className="muted">
            @{me.username} · {me.email}
            {me.email_verified === false ? " (not verified)" : ""}
          </div>
        </div>
      </div>
      <form className="card" onSubmit={saveName.submit}>
        <Field label="Full name" value={name ?? me.display_name} onChange={(e) => setName(e.target.value)} error={saveName.error?.field("display_name")} />
        <FormError error={saveName.error} />
        <button className="btn primary" disabled={saveName.busy || name === null}>
          Save
        </button>
      </form>
      <h2>Status</h2>
      <form className="card" onSubmit={saveStatus.submit}>
        <div className="status-row">
          <div className="emoji-anchor">
            <button type="button" className="btn emoji-btn" aria-label="Status emoji" onClick={() => setPicker(!picker)}>
              {emoji || "🙂"}
            </button>
            {picker ? (
              <EmojiPicker
                onPick={(e) => {
                  setStatusEmoji(e);
                  setPicker(false);
                }}
                onClose={() => setPicker(false)}
              />
            ) : null}
          </div>
          <input className="grow" aria-label="What's your status?" placeholder="What's your status?" maxLength={100} value={statusText ?? me.status?.text ?? ""} onChange={(e) => setStatusText(e.target.value)} />
        </div>
        <label className="inline">
          Clear after{" "}
          <select value={expiry} onChange={(e) => setExpiry(e.target.value)}>
            <option value="0">Don't clear</option>
            <option value="0.5">30 minutes</option>
            <option value="1">1 hour</option>
            <option value="4">4 hours</option>
            <option value="24">Today</option>
            <option value="168">This week</option>
          </select>
        </label>
        <FormError error={saveStatus.error} />
        <div className="row-actions">
          <button className="btn primary" disabled={saveStatus.busy}>
            Set status
          </button>
          {me.status ? (
            <button type="button" className="btn" onClick={() => void clearStatus.submit()}>
              Clear status
            </button>
          ) : null}
        </div>
      </form>
    </>
  );
}

/** The QR code of an otpauth URL, drawn here: the secret never leaves the page. */
function Qr({ text }: { text: string }) {
  const { data, size } = encode(text, { ecc: "M", border: 2 });
  const cells: string[] = [];
  data.forEach((row, y) => row.forEach((on, x) => on && cells.push(`M${x} ${y}h1v1h-1z`)));
  return (
    <svg className="qr" viewBox={`0 0 ${size} ${size}`} width={size * 5} height={size * 5} role="img" aria-label="QR code for your authenticator app">
      <rect width={size} height={size} fill="#fff" />
      <path d={cells.join("")} fill="#000" />
    </svg>
  );
}

function Security() {
  const { data: me } = useMe();
  const providers = useProviders();
  // Without password sign-in, the identity provider owns passwords and second factors.
  const passwords = providers.data?.password ?? true;
  const [password, setPassword] = useState("");
  const [enrollment, setEnrollment] = useState<{ otpauth_url: string; secret: string } | null>(null);
  const [code, setCode] = useState("");
  const [codes, setCodes] = useState<string[] | null>(null);
  const [totpChanged, setTotpOn] = useState<boolean | null>(null);
  const totpOn = totpChanged ?? me?.totp_enabled ?? false;
  const start = useSubmit(async () => {
    setEnrollment(await call(api.POST("/auth/totp/setup", { body: { password } })));
    setPassword("");
  });
  const confirm = useSubmit(async () => {
    const r = await call(api.POST("/auth/totp/confirm", { body: { code } }));
    setCodes(r.recovery_codes);
    setEnrollment(null);
    setTotpOn(true);
    await queryClient.invalidateQueries({ queryKey: keys.me });
  });
  const disable = useSubmit(async () => {
    await call(api.DELETE("/auth/totp", { body: { password, code } }));
    setTotpOn(false);
    await queryClient.invalidateQueries({ queryKey: keys.me });
    setPassword("");
    setCode("");
  });
  const everywhere = useSubmit(async () => {
    await call(api.POST("/auth/logout-all"));
    await session.signOut();
  });
  if (!me) return null;
  return (
    <>
      <h1>Security</h1>
      {passwords ? null : (
        <div className="card">
          <p>You sign in through your organisation's identity provider: your password and two-factor authentication are managed there.</p>
        </div>
      )}
      {passwords && <h2>Two-factor authentication</h2>}
      {passwords && <div className="card">
        {codes ? (
          <>
            <p>
              <b>Two-factor authentication is on.</b> Keep these recovery codes somewhere safe: each one signs you in once if you lose your phone. They are shown only now.
            </p>
            <ul className="codes" aria-label="Recovery codes">
              {codes.map((c) => (
                <li key={c}>
                  <code>{c}</code>
                </li>
              ))}
            </ul>
            <button className="btn" onClick={() => void navigator.clipboard?.writeText(codes.join("\n"))}>
              Copy codes
            </button>
          </>
        ) : enrollment ? (
          <form onSubmit={confirm.submit}>
            <p>Scan this code with your authenticator app (1Password, Google Authenticator, Authy…), then enter the 6-digit code it shows.</p>
            <div className="qr-row">
              <Qr text={enrollment.otpauth_url} />
              <div>
                <p className="muted">Can't scan? Enter this key:</p>
                <code className="secret" data-testid="totp-secret">
                  {enrollment.secret}
                </code>
              </div>
            </div>
            <Field label="Code from the app" inputMode="numeric" autoComplete="one-time-code" maxLength={6} value={code} onChange={(e) => setCode(e.target.value.replace(/\D/g, ""))} />
            <FormError error={confirm.error} />
            <button className="btn primary" disabled={confirm.busy || code.length !== 6}>
              Turn on
            </button>
          </form>
        ) : totpOn ? (
          <form onSubmit={disable.submit}>
            <p>Two-factor authentication is on. To turn it off, confirm with your password and a current code.</p>
            <Field label="Password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
            <Field label="Code" inputMode="numeric" value={code} onChange={(e) => setCode(e.target.value)} />
            <FormError error={disable.error} />
            <button className="btn danger" disabled={disable.busy || !password || !code}>
              Turn off
            </button>
          </form>
        ) : (
          <form onSubmit={start.submit}>
            <p>Protect your account with a code from an authenticator app in addition to your password.</p>
            <Field label="Confirm with your password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} error={start.error?.field("password")} />
            <FormError error={start.error} />
            <button className="btn primary" disabled={start.busy || !password}>
              Set up two-factor authentication
            </button>
          </form>
        )}
      </div>}
      {passwords && <h2>Password</h2>}
      {passwords && <ChangePassword username={me.username} />}
      <h2>Sessions</h2>
      <div className="card">
        <SessionList />
        <p>Signed in somewhere you don't recognise? End every session, on every device, including this one.</p>
        <FormError error={everywhere.error} />
        <button className="btn danger" disabled={everywhere.busy} onClick={() => void everywhere.submit()}>
          Sign out everywhere
        </button>
      </div>
    </>
  );
}

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Where you are signed in; any other session can be signed out from here. */
function SessionList() {
  const list = useQuery({ queryKey: ["sessions"], queryFn: async () => (await call(api.GET("/auth/sessions"))).items });
  const end = async (id: string) => {
    await call(api.DELETE("/auth/sessions/{id}", { params: { path: { id } } }));
    await queryClient.invalidateQueries({ queryKey: ["sessions"] });
  };
  return (
    <ul className="sessions" aria-label="Your sessions">
      {(list.data ?? []).map((s) => (
        <li key={s.id}>
          <div>
            <b>{s.current ? "This browser" : "Signed in"} </b>
            <span className="muted">since {when.format(new Date(s.started_at))}</span>
            <div className="muted small">Last active {when.format(new Date(s.last_active_at))}</div>
          </div>
          {s.current ? <span className="tag">current</span> : (
            <button className="btn small" onClick={() => void end(s.id)}>
              Sign out
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

function ChangePassword({ username }: { username: string }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [done, setDone] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    // Every session ends with the change, this one too: sign in again at once, under the
    // refresh lock so nothing refreshes the ended session meanwhile.
    await session.exclusive(async () => {
      await call(api.POST("/auth/password", { body: { current_password: current, new_password: next } }));
      await signIn(username, next);
    });
    setCurrent("");
    setNext("");
    setRepeat("");
    setDone(true);
  });
  const mismatch = repeat.length > 0 && repeat !== next;
  return (
    <form className="card" onSubmit={submit} noValidate>
      {done ? <p role="status">Your password was changed, and every other device was signed out.</p> : null}
      <Field label="Current password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} error={error?.code === "invalid_password" ? error.message : error?.field("current_password")} />
      <Field label="New password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} error={error?.field("new_password")} hint="At least 8 characters, not easy to guess." />
      <Field label="Repeat the new password" type="password" autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} error={mismatch ? "The passwords differ." : undefined} />
      <FormError error={error?.code === "invalid_password" ? null : error} />
      <button className="btn primary" disabled={busy || !current || next.length < 8 || next !== repeat}>
        {busy ? "Changing…" : "Change password"}
      </button>
    </form>
  );
}

function Notifications() {
  const supported = typeof Notification !== "undefined";
  const [perm, setPerm] = useState(supported ? Notification.permission : "denied");
  const [on, setOn] = useState(localStorage.getItem("colink:notify") !== "off");
  return (
    <>
      <h1>Notifications</h1>
      <div className="card">
        <label className="check">
          <input
            type="checkbox"
            checked={on && perm === "granted"}
            disabled={!supported || perm === "denied"}
            onChange={async (e) => {
              if (e.target.checked && perm !== "granted") setPerm(await Notification.requestPermission());
              setOn(e.target.checked);
              localStorage.setItem("colink:notify", e.target.checked ? "on" : "off");
            }}
          />
          <span>
            <b>Desktop notifications for mentions and direct messages</b>
            <span className="muted"> — while CoLink is open in a tab you are not looking at.</span>
          </span>
        </label>
        {perm === "denied" ? <p className="muted">Your browser blocks notifications for this site; allow them in its site settings.</p> : null}
      </div>
    </>
  );
}
