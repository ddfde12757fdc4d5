import { useQuery } from "@tanstack/react-query";
import { api, call, type User } from "../api/client";
import { Icon } from "../components/Icon";
import { MessageItem } from "./MessageItem";
import { ThreadOpener } from "./threadContext";

export const pinsKey = (channelId: string) => ["pins", channelId] as const;

/** The conversation's pinned messages, most recently pinned first. */
export function PinsPanel({ channelId, me, onClose }: { channelId: string; me: User | undefined; onClose: () => void }) {
  const pins = useQuery({
    queryKey: pinsKey(channelId),
    queryFn: async () => (await call(api.GET("/channels/{id}/pins", { params: { path: { id: channelId }, query: { limit: 100 } } }))).items,
  });
  return (
    <aside className="panel" aria-label="Pinned messages">
      <div className="panel-head">
        <h2>Pinned</h2>
        <button className="icon-btn" aria-label="Close pinned messages" onClick={onClose}>
          <Icon name="close" />
        </button>
      </div>
      <ThreadOpener.Provider value={null}>
        <div className="thread-scroll">
          {pins.data?.length === 0 ? (
            <div className="empty-state">
              <Icon name="pin" size={28} />
              <p>Nothing is pinned yet. Pin a message from its menu to keep it here for everyone.</p>
            </div>
          ) : null}
          {(pins.data ?? []).map((m) => (
            <MessageItem key={m.id} message={m} grouped={false} me={me} editing={false} onEdit={() => undefined} />
          ))}
        </div>
      </ThreadOpener.Provider>
    </aside>
  );
}
