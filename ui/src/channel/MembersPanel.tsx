import { useQuery } from "@tanstack/react-query";
import { Icon } from "../components/Icon";
import { api, call } from "../api/client";
import { Avatar } from "../components/Avatar";
import { keys } from "../store/data";
import { seedPresence } from "../realtime/live";

export function useMembers(channelId: string) {
  return useQuery({
    queryKey: keys.members(channelId),
    queryFn: async () => {
      const r = await call(api.GET("/channels/{id}/members", { params: { path: { id: channelId }, query: { limit: 200 } } }));
      for (const m of r.items) seedPresence(m.user_id, m.presence);
      return r.items;
    },
  });
}

export function MembersPanel({ channelId, onClose }: { channelId: string; onClose: () => void }) {
  const { data } = useMembers(channelId);
  return (
    <aside className="panel" aria-label="Members">
      <div className="panel-head">
        <h2>Members</h2>
        <button className="icon-btn" aria-label="Close members" onClick={onClose}>
          <Icon name="close" />
        </button>
      </div>
      <ul className="member-list">
        {(data ?? []).map((m) => (
          <li key={m.user_id}>
            <Avatar userId={m.user_id} size={28} showPresence />
            <span className="pick-main">
              <b>{m.display_name || m.username}</b>
              <span className="muted">@{m.username}</span>
            </span>
            {m.role !== "member" ? <span className="tag">{m.role}</span> : null}
          </li>
        ))}
      </ul>
    </aside>
  );
}
