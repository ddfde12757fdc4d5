import { useEffect, useRef, useState } from "react";
import { Link } from "wouter";
import { ApiError, call, publicApi } from "../api/client";
import { AuthLayout } from "./AuthLayout";

export function VerifyEmail() {
  const token = new URLSearchParams(location.search).get("token") ?? "";
  const [state, setState] = useState<"checking" | "ok" | ApiError>("checking");
  const once = useRef(false);
  useEffect(() => {
    if (once.current) return;
    once.current = true;
    call(publicApi.POST("/auth/email/verify", { body: { token } }))
      .then(() => setState("ok"))
      .catch((e: unknown) => setState(e instanceof ApiError ? e : new ApiError(0, "unknown", String(e))));
  }, [token]);
  if (state === "checking") return <AuthLayout title="Confirming your email…">{null}</AuthLayout>;
  if (state === "ok")
    return (
      <AuthLayout title="Email confirmed" subtitle="Thanks! Your address is verified.">
        <Link className="btn primary wide" href="/">
          Open CoLink
        </Link>
      </AuthLayout>
    );
  return (
    <AuthLayout title="This link doesn't work" subtitle={state.message} footer={<Link href="/">Open CoLink</Link>}>
      {null}
    </AuthLayout>
  );
}
