import { usePresence } from "../realtime/live";
import { useUser } from "../store/data";

// Dark enough for white initials (WCAG AA, 4.5:1) in both themes.
const COLORS = ["#be123c", "#be185d", "#7e22ce", "#4338ca", "#1d4ed8", "#0e7490", "#047857", "#4d7c0f", "#b45309", "#c2410c"];

export function colorFor(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return COLORS[h % COLORS.length] as string;
}

export function initials(name: string): string {
  const parts = name.trim().split(/[\s._-]+/).filter(Boolean);
  const s = parts.length > 1 ? (parts[0]?.[0] ?? "") + (parts[1]?.[0] ?? "") : name.slice(0, 2);
  return s.toUpperCase();
}

export function Avatar({ userId, size = 36, showPresence = false }: { userId: string; size?: number; showPresence?: boolean }) {
  const { data: user } = useUser(userId);
  const name = user?.display_name || user?.username || "";
  return (
    <span className="avatar" style={{ width: size, height: size, fontSize: size * 0.4, background: colorFor(userId) }} aria-hidden="true">
      {initials(name || "?")}
      {showPresence ? <PresenceDot userId={userId} fallback={user?.presence} /> : null}
    </span>
  );
}

export function PresenceDot({ userId, fallback }: { userId: string; fallback?: string | undefined }) {
  const live = usePresence(userId);
  const p = live ?? fallback ?? "offline";
  return <span className={`presence presence-${p}`} title={p} aria-label={p} />;
}

/** A person's display name (falls back to the username, then to an ellipsis while loading). */
export function useDisplayName(userId: string | null | undefined): string {
  const { data } = useUser(userId);
  return data ? data.display_name || data.username : "…";
}
