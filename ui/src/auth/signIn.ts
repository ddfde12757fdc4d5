/** Cookie-session sign-in shared by the login, setup and register screens. */
import { call, publicApi } from "../api/client";
import { session } from "../api/session";

export type SignInResult = { kind: "done"; enrollTotp: boolean } | { kind: "mfa"; mfaToken: string };

export async function signIn(login: string, password: string): Promise<SignInResult> {
  const r = await call(publicApi.POST("/auth/web/login", { body: { login, password } }));
  if (r.mfa_required && r.mfa_token) return { kind: "mfa", mfaToken: r.mfa_token };
  if (!r.access_token || !r.expires_in) throw new Error("The server answered without a token.");
  session.accept({ access_token: r.access_token, expires_in: r.expires_in });
  return { kind: "done", enrollTotp: r.totp_enrollment_required ?? false };
}

export async function signInTotp(mfaToken: string, code: string): Promise<void> {
  const r = await call(publicApi.POST("/auth/web/login/totp", { body: { mfa_token: mfaToken, code } }));
  session.accept(r);
}

/** Where to go after signing in: `?next=` if it is a path of this app. */
export function nextPath(): string {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}
