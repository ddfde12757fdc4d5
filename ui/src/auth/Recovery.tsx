import { useState } from "react";
import { Link } from "wouter";
import { call, publicApi } from "../api/client";
import { Field, FormError, useSubmit } from "../components/Form";
import { AuthLayout } from "./AuthLayout";

export function ForgotPassword() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    await call(publicApi.POST("/auth/password-reset/request", { body: { email: email.trim() } }));
    setSent(true);
  });
  if (sent)
    return (
      <AuthLayout title="Check your inbox" subtitle={<>If an account uses <b>{email}</b>, a link to choose a new password is on its way. It works for one hour.</>} footer={<Link href="/login">Back to sign in</Link>} >
        {null}
      </AuthLayout>
    );
  return (
    <AuthLayout title="Reset your password" subtitle="We'll email you a link to choose a new one." footer={<Link href="/login">Back to sign in</Link>}>
      <form onSubmit={submit} noValidate>
        <Field label="Email" type="email" autoComplete="email" autoFocus value={email} onChange={(e) => setEmail(e.target.value)} error={error?.field("email")} />
        <FormError error={error} />
        <button className="btn primary wide" disabled={busy || !email}>
          {busy ? "Sending…" : "Send reset link"}
        </button>
      </form>
    </AuthLayout>
  );
}

export function ResetPassword() {
  const token = new URLSearchParams(location.search).get("token") ?? "";
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [done, setDone] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    await call(publicApi.POST("/auth/password-reset/confirm", { body: { token, new_password: password } }));
    setDone(true);
  });
  if (!token)
    return (
      <AuthLayout title="This link is incomplete" subtitle="Open the link from the email again, or ask for a new one." footer={<Link href="/forgot-password">Ask for a new link</Link>}>
        {null}
      </AuthLayout>
    );
  if (done)
    return (
      <AuthLayout title="Password changed" subtitle="Every other session of your account was signed out.">
        <Link className="btn primary wide" href="/login">
          Sign in
        </Link>
      </AuthLayout>
    );
  const mismatch = confirm.length > 0 && confirm !== password;
  return (
    <AuthLayout title="Choose a new password" footer={<Link href="/login">Back to sign in</Link>}>
      <form onSubmit={submit} noValidate>
        <Field label="New password" type="password" autoComplete="new-password" autoFocus value={password} onChange={(e) => setPassword(e.target.value)} error={error?.field("new_password")} hint="At least 8 characters." />
        <Field label="Repeat it" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} error={mismatch ? "The passwords differ." : undefined} />
        <FormError error={error} />
        <button className="btn primary wide" disabled={busy || password.length < 8 || confirm !== password}>
          {busy ? "Saving…" : "Set password"}
        </button>
      </form>
    </AuthLayout>
  );
}
