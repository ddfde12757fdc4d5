import { useEffect, useState, useSyncExternalStore } from "react";
import { realtime } from "../realtime/socket";

/** Says when live updates are paused: offline, or reconnecting for more than a moment. */
export function ConnectionBanner() {
  const state = useSyncExternalStore(
    (cb) => realtime.onState(cb),
    () => realtime.state,
  );
  const [late, setLate] = useState(false);
  useEffect(() => {
    if (state === "open") {
      setLate(false);
      return;
    }
    const t = setTimeout(() => setLate(true), 2_000);
    return () => clearTimeout(t);
  }, [state]);
  if (state === "open") return null;
  if (!navigator.onLine)
    return (
      <div className="banner warn" role="status">
        <span>You're offline. New messages will appear as soon as you're back online.</span>
      </div>
    );
  if (!late) return null;
  return (
    <div className="banner warn" role="status">
      <span>Reconnecting…</span>
    </div>
  );
}
