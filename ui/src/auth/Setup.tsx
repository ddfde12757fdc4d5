import { useEffect, useState } from "react";
import { useLocation } from "wouter";
import { useQuery } from "@tanstack/react-query";
import { call, publicApi } from "../api/client";
import { Field, FormError, NewPasswordField, UsernameField, useSubmit } from "../components/Form";
import { AuthLayout } from "./AuthLayout";
import { signIn } from "./signIn";

/** First run: the owner account and the first workspace, with the token from the server log. */
export function Setup() {
  const [, navigate] = useLocation();
  const fromLink = new URLSearchParams(location.search).get("token") ?? "";
  const [token, setToken] = useState(fromLink);
  const [workspace, setWorkspace] = useState("");
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const status = useQuery({ queryKey: ["setup-status"], queryFn: () => call(publicApi.GET("/setup/status")) });

  useEffect(() => {
    if (status.data && !status.data.needs_setup) navigate("/login", { replace: true });
  }, [status.data, navigate]);

  const { busy, error, submit } = useSubmit(async () => {
    await call(
      publicApi.POST("/setup", {
        body: { setup_token: token.trim(), workspace_name: workspace.trim(), email: email.trim(), username: username.trim(), password },
      }),
    );
    await signIn(username.trim(), password);
    navigate("/", { replace: true });
  });

  return (
    <AuthLayout title="Set up CoLink" subtitle="Create the owner account and your team's first workspace.">
      <form onSubmit={submit} noValidate>
        {fromLink ? null : (
          <Field
            label="Setup token"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            error={error?.field("setup_token") ?? (error?.status === 403 ? error.message : undefined)}
            hint={<>Printed in the server log, and saved in <code>colink-data/setup-token</code>.</>}
          />
        )}
        <Field label="Workspace name" placeholder="Acme Inc." autoFocus value={workspace} onChange={(e) => setWorkspace(e.target.value)} error={error?.field("workspace_name")} />
        <Field label="Your email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} error={error?.field("email")} />
        <UsernameField value={username} onChange={setUsername} error={error?.field("username")} />
        <NewPasswordField value={password} onChange={setPassword} error={error?.field("password")} />
        <FormError error={fromLink && error?.status === 403 ? error : error?.status === 403 ? null : error} />
        <button className="btn primary wide" disabled={busy || !token || !workspace || !email || !username || password.length < 8}>
          {busy ? "Creating…" : "Create workspace"}
        </button>
      </form>
    </AuthLayout>
  );
}
