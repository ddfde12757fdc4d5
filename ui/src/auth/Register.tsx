import { useEffect, useState, useSyncExternalStore } from "react";
import { Link, useLocation } from "wouter";
import { api, call, publicApi } from "../api/client";
import { session } from "../api/session";
import { Field, FormError, NewPasswordField, UsernameField, useSubmit } from "../components/Form";
import { Splash } from "../components/Splash";
import { AuthLayout } from "./AuthLayout";
import { signIn } from "./signIn";
import { SsoButtons, useProviders } from "./Login";

/** Sign up (open registration) or accept an invite link (`/invite/<token>`). */
export function Register({ token }: { token: string | null }) {
  const status = useSyncExternalStore(
    (cb) => session.subscribe(cb),
    () => session.status,
  );
  useEffect(() => {
    if (session.status === "unknown") void session.refresh();
  }, []);
  if (token && status === "unknown") return <Splash />;
  if (token && status === "signed-in") return <AcceptInvite token={token} />;
  return <RegisterForm token={token} />;
}

function AcceptInvite({ token }: { token: string }) {
  const [, navigate] = useLocation();
  const { busy, error, submit } = useSubmit(async () => {
    const ws = await call(api.POST("/invites/{token}/accept", { params: { path: { token } } }));
    navigate(`/w/${ws.id}`, { replace: true });
  });
  return (
    <AuthLayout title="You're invited" subtitle="Join the workspace with the account you are signed in with.">
      <FormError error={error} />
      <button className="btn primary wide" onClick={() => void submit()} disabled={busy}>
        {busy ? "Joining…" : "Join workspace"}
      </button>
      <div className="auth-links">
        <button className="link" onClick={() => void session.signOut()}>
          Use another account
        </button>
      </div>
    </AuthLayout>
  );
}

function RegisterForm({ token }: { token: string | null }) {
  const providers = useProviders();
  if (providers.data && !providers.data.password) return <ProviderOnly token={token} providers={providers.data.oidc} />;
  return <PasswordRegisterForm token={token} />;
}

/** Without password sign-in, accounts come from the identity provider: sign in there (and
 * come back to the invite, which then asks to join). */
function ProviderOnly({ token, providers }: { token: string | null; providers: Parameters<typeof SsoButtons>[0]["providers"] }) {
  return (
    <AuthLayout
      title={token ? "Join your team" : "Sign in to get started"}
      subtitle="Accounts here come from your organisation's sign-in: your account is created the first time you use it."
    >
      <SsoButtons providers={providers} next={token ? `/invite/${token}` : "/"} />
    </AuthLayout>
  );
}

function PasswordRegisterForm({ token }: { token: string | null }) {
  const [, navigate] = useLocation();
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, submit } = useSubmit(async () => {
    await call(
      publicApi.POST("/auth/register", {
        body: { email: email.trim(), username: username.trim(), password, display_name: displayName.trim() || null, invite_token: token },
      }),
    );
    await signIn(username.trim(), password);
    navigate("/", { replace: true });
  });
  return (
    <AuthLayout
      title={token ? "Join your team" : "Create your account"}
      subtitle={token ? "You've been invited to a CoLink workspace." : undefined}
      footer={
        <>
          Already have an account? <Link href={token ? `/login?next=${encodeURIComponent(`/invite/${token}`)}` : "/login"}>Sign in</Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate>
        <Field label="Email" type="email" autoComplete="email" autoFocus value={email} onChange={(e) => setEmail(e.target.value)} error={error?.field("email")} />
        <Field label="Full name" autoComplete="name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} error={error?.field("display_name")} hint="Optional: how your team sees you." />
        <UsernameField value={username} onChange={setUsername} error={error?.field("username")} />
        <NewPasswordField value={password} onChange={setPassword} error={error?.field("password")} />
        <FormError error={error} />
        <button className="btn primary wide" disabled={busy || !email || !username || password.length < 8}>
          {busy ? "Creating account…" : "Create account"}
        </button>
      </form>
    </AuthLayout>
  );
}
