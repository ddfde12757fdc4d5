import { useEffect, useState } from "react";
import { Link, useLocation } from "wouter";
import { useQuery } from "@tanstack/react-query";
import { call, publicApi } from "../api/client";
import { Field, FormError, useSubmit } from "../components/Form";
import { AuthLayout } from "./AuthLayout";
import { nextPath, signIn, signInTotp } from "./signIn";
import { session } from "../api/session";

export function Login() {
  const [, navigate] = useLocation();
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const providers = useQuery({ queryKey: ["providers"], queryFn: () => call(publicApi.GET("/auth/providers")) });

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
      <form onSubmit={submit} noValidate>
        <Field label="Username or email" autoComplete="username" autoFocus value={login} onChange={(e) => setLogin(e.target.value)} required error={error?.field("login")} />
        <Field label="Password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required error={error?.field("password")} />
        <FormError error={error} />
        <button className="btn primary wide" disabled={busy || !login || !password}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <div className="auth-links">
          <Link href="/forgot-password">Forgot your password?</Link>
        </div>
      </form>
    </AuthLayout>
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
