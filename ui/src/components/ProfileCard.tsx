import { useEffect, useRef } from "react";
import { useLocation } from "wouter";
import { api, call } from "../api/client";
import { queryClient } from "../queryClient";
import { keys, useMe, useUser } from "../store/data";
import { Avatar, PresenceDot } from "./Avatar";

/** A person's card (from a click on their name): who they are, their status, a DM button. */
export function ProfileCard({ userId, ws, onClose }: { userId: string; ws: string | undefined; onClose: () => void }) {
  const { data: u } = useUser(userId);
  const { data: me } = useMe();
  const [, navigate] = useLocation();
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const onDown = (e: MouseEvent) => ref.current && !ref.current.contains(e.target as Node) && onClose();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    document.addEventListener("mousedown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [onClose]);
  if (!u) return null;
  const message = async () => {
    const c = await call(api.POST("/dms", { body: { participant_ids: u.id === me?.id ? [] : [u.id], workspace_id: ws ?? null } }));
    await queryClient.invalidateQueries({ queryKey: keys.conversations });
    onClose();
    navigate(`/w/${c.workspace_id}/c/${c.id}`);
  };
  return (
    <div className="profile-pop" ref={ref} role="dialog" aria-label={`Profile of ${u.display_name || u.username}`}>
      <div className="profile-pop-head">
        <Avatar userId={u.id} size={56} />
        <div>
          <div className="profile-name">{u.display_name || u.username}</div>
          <div className="muted">
            @{u.username}
            {u.role === "guest" || u.role === "bot" ? <span className="tag"> {u.role}</span> : null}
          </div>
          <div className="muted presence-line">
            <PresenceDot userId={u.id} fallback={u.presence} /> {u.presence}
          </div>
        </div>
      </div>
      {u.status?.text || u.status?.emoji ? (
        <div className="profile-status">
          {u.status.emoji} {u.status.text}
        </div>
      ) : null}
      {u.role !== "bot" ? (
        <button className="btn primary wide" onClick={() => void message()}>
          {u.id === me?.id ? "Message yourself" : "Message"}
        </button>
      ) : null}
    </div>
  );
}
