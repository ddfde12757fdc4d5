import { useEffect, useState } from "react";
import { Link, useLocation } from "wouter";
import { useQuery } from "@tanstack/react-query";
import { call, publicApi } from "../api/client";
import { Field, FormError, useSubmit } from "../components/Form";
import { AuthLayout } from "./AuthLayout";
import { nextPath, signIn, signInTotp } from "./signIn";
import { session } from "../api/session";

/** How people sign in here (`GET /auth/providers`), fetched once and shared by every screen. */
export function useProviders() {
  return useQuery({ queryKey: ["providers"], queryFn: () => call(publicApi.GET("/auth/providers")) });
}

export function Login() {
  const [, navigate] = useLocation();
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const providers = useProviders();

  // Already signed in (another tab, or a restored cookie): go straight in.
  useEffect(() => {
    if (session.status === "signed-in") navigate(nextPath(), { replace: true });
  }, [navigate]);

  const done = (enrollTotp: boolean) => navigate(enrollTotp ? "/settings/security?enroll=1" : nextPath(), { replace: true });
  const { busy, error, submit } = useSubmit(async () => {
    const r = await signIn(login.trim(), password);
    if (r.kind === "mfa") setMfaToken(r.mfaToken);
    else done(r.enrollTotp);
  });

  if (mfaToken) return <TotpStep mfaToken={mfaToken} onDone={() => done(false)} onBack={() => setMfaToken(null)} />;

  const identityProviders = providers.data?.oidc ?? [];
  // Until the server says otherwise, offer the password form (the common case).
  const passwords = providers.data?.password ?? true;
  const ssoError = new URLSearchParams(location.search).get("sso_error");

  return (
    <AuthLayout
      title="Sign in"
      subtitle="Welcome back to your team."
      footer={
        providers.data?.registration === "open" ? (
          <>
            New here? <Link href="/register">Create an account</Link>
          </>
        ) : null
      }
    >
      {ssoError && (
        <div className="form-error" role="alert">
          {ssoMessage(ssoError)}
        </div>
      )}
      <SsoButtons providers={identityProviders} next={nextPath()} />
      {passwords && identityProviders.length > 0 && <div className="auth-divider"><span>or</span></div>}
      {passwords && (
        <form onSubmit={submit} noValidate>
          <Field label="Username or email" autoComplete="username" autoFocus={identityProviders.length === 0} value={login} onChange={(e) => setLogin(e.target.value)} required error={error?.field("login")} />
          <Field label="Password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required error={error?.field("password")} />
          <FormError error={error} />
          <button className="btn primary wide" disabled={busy || !login || !password}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
          <div className="auth-links">
            <Link href="/forgot-password">Forgot your password?</Link>
          </div>
        </form>
      )}
    </AuthLayout>
  );
}

type IdentityProvider = { name: string; display_name: string; kind: string; start_url: string };

/** "Continue with …" for each identity provider; after signing in there, land on `next`. */
export function SsoButtons({ providers, next }: { providers: IdentityProvider[]; next: string }) {
  if (providers.length === 0) return null;
  return (
    <div className="sso-buttons">
      {providers.map((p) => (
        <a key={p.name} className="btn wide sso" href={`${p.start_url}?return_to=${encodeURIComponent(next)}`}>
          <span className="sso-mark" aria-hidden="true">{p.kind === "github" ? <GithubMark /> : <KeyMark />}</span>
          Continue with {p.display_name}
        </a>
      ))}
    </div>
  );
}

/** What went wrong at an identity provider (`/login?sso_error=<code>`), in words. */
export function ssoMessage(code: string): string {
  switch (code) {
    case "sso_expired":
      return "That sign-in took too long or was started in another browser. Please try again.";
    case "sso_email_unverified":
      return "Your identity provider has no verified email address for you. Verify it there, then try again.";
    case "sso_no_account":
      return "There is no account for you here yet. Ask an admin to invite you.";
    case "sso_unavailable":
      return "The identity provider can't be reached right now. Please try again in a moment.";
    case "account_suspended":
      return "This account is suspended. Contact an admin of this workspace.";
    case "rate_limited":
      return "Too many sign-in attempts. Wait a moment, then try again.";
    default:
      return "The identity provider did not sign you in. Please try again.";
  }
}

function KeyMark() {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
      <circle cx="8" cy="15" r="4" />
      <path d="M10.8 12.2 20 3m-4 4 3 3m-6 0 2 2" />
    </svg>
  );
}

function GithubMark() {
  return (
    <svg viewBox="0 0 16 16" width="18" height="18" fill="currentColor">
      <path d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17.55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27 2-.27s1.36.09 2 .27c1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.01 8.01 0 0 0 16 8c0-4.42-3.58-8-8-8Z" />
    </svg>
  );
}

function TotpStep({ mfaToken, onDone, onBack }: { mfaToken: string; onDone: () => void; onBack: () => void }) {
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    await signInTotp(mfaToken, code.replace(/\s+/g, ""));
    onDone();
  });
  return (
    <AuthLayout title="Two-factor authentication" subtitle={recovery ? "Enter one of your recovery codes. Each code works once." : "Enter the 6-digit code from your authenticator app."}>
      <form onSubmit={submit} noValidate>
        {recovery ? (
          <Field key="rc" label="Recovery code" autoComplete="off" autoFocus value={code} onChange={(e) => setCode(e.target.value)} />
        ) : (
          <Field
            key="totp"
            label="Authentication code"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]*"
            maxLength={6}
            autoFocus
            value={code}
            onChange={(e) => setCode(e.target.value.replace(/\D/g, ""))}
          />
        )}
        <FormError error={error} />
        <button className="btn primary wide" disabled={busy || (!recovery && code.length !== 6) || (recovery && code.length < 8)}>
          {busy ? "Checking…" : "Verify"}
        </button>
        <div className="auth-links spread">
          <button type="button" className="link" onClick={() => { setRecovery(!recovery); setCode(""); }}>
            {recovery ? "Use your authenticator app" : "Use a recovery code"}
          </button>
          <button type="button" className="link" onClick={onBack}>
            Back
          </button>
        </div>
      </form>
    </AuthLayout>
  );
}
