import { useState } from "react";
import { Icon } from "../components/Icon";

/** Asks for the browser's notification permission from a click (browsers ignore unprompted asks). */
export function NotifyBanner() {
  const supported = typeof Notification !== "undefined";
  const [hidden, setHidden] = useState(() => !supported || Notification.permission !== "default" || localStorage.getItem("colink:notify-banner") === "dismissed");
  if (hidden) return null;
  const dismiss = () => {
    localStorage.setItem("colink:notify-banner", "dismissed");
    setHidden(true);
  };
  return (
    <div className="banner" role="region" aria-label="Desktop notifications">
      <span>Get a desktop notification when someone mentions you or sends you a direct message.</span>
      <button
        className="btn small primary"
        onClick={async () => {
          const p = await Notification.requestPermission();
          localStorage.setItem("colink:notify", p === "granted" ? "on" : "off");
          dismiss();
        }}
      >
        Turn on
      </button>
      <button className="icon-btn small" aria-label="Not now" onClick={dismiss}>
        <Icon name="close" size={14} />
      </button>
    </div>
  );
}
