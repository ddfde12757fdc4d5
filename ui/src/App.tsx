import { useEffect, useState, useSyncExternalStore } from "react";
import { QueryClientProvider } from "@tanstack/react-query";
import { queryClient } from "./queryClient";
import { Redirect, Route, Switch, useLocation } from "wouter";
import { publicApi } from "./api/client";
import { session } from "./api/session";
import { Setup } from "./auth/Setup";
import { Login } from "./auth/Login";
import { Register } from "./auth/Register";
import { ForgotPassword, ResetPassword } from "./auth/Recovery";
import { VerifyEmail } from "./auth/VerifyEmail";
import { Shell } from "./shell/Shell";
import { Splash } from "./components/Splash";


export function useSessionStatus() {
  return useSyncExternalStore(
    (cb) => session.subscribe(cb),
    () => session.status,
  );
}

/** Restores the session from the refresh cookie once, before anything that needs it renders. */
function useRestoredSession() {
  const status = useSessionStatus();
  const [needsSetup, setNeedsSetup] = useState<boolean | null>(null);
  useEffect(() => {
    if (session.status === "unknown") void session.refresh();
  }, []);
  useEffect(() => {
    if (status !== "signed-out") return;
    publicApi
      .GET("/setup/status")
      .then((r) => setNeedsSetup(r.data?.needs_setup ?? false))
      .catch(() => setNeedsSetup(false));
  }, [status]);
  return { status, needsSetup };
}

function Private() {
  const { status, needsSetup } = useRestoredSession();
  const [location] = useLocation();
  if (status === "unknown" || (status === "signed-out" && needsSetup === null)) return <Splash />;
  if (status === "signed-out") {
    if (needsSetup) return <Redirect to="/setup" replace />;
    const next = location === "/" ? "" : `?next=${encodeURIComponent(location)}`;
    return <Redirect to={`/login${next}`} replace />;
  }
  return <Shell />;
}

export function App() {
  useEffect(() => {
    const off = session.subscribe(() => {
      if (session.status === "signed-out") queryClient.clear();
    });
    return () => void off();
  }, []);
  return (
    <QueryClientProvider client={queryClient}>
      <Switch>
        <Route path="/setup" component={Setup} />
        <Route path="/login" component={Login} />
        <Route path="/invite/:token">{(p) => <Register token={p.token} />}</Route>
        <Route path="/register" component={() => <Register token={null} />} />
        <Route path="/forgot-password" component={ForgotPassword} />
        <Route path="/reset-password" component={ResetPassword} />
        <Route path="/verify-email" component={VerifyEmail} />
        <Route>
          <Private />
        </Route>
      </Switch>
    </QueryClientProvider>
  );
}
