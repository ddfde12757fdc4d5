import { useQuery } from "@tanstack/react-query";
import { Icon } from "../components/Icon";
import { api, call } from "../api/client";
import { Avatar } from "../components/Avatar";
import { keys } from "../store/data";
import { seedPresence } from "../realtime/live";
import { PeopleList, usePeopleSearch } from "../components/PeoplePicker";
import { useState } from "react";
import { FormError, useSubmit } from "../components/Form";
import { queryClient } from "../queryClient";
import type { User } from "../api/client";

/** Find people of the workspace and add them to the channel. */
function AddMember({ channelId, memberIds, onDone }: { channelId: string; memberIds: string[]; onDone: () => void }) {
  const [q, setQ] = useState("");
  const people = usePeopleSearch(q);
  const [picked, setPicked] = useState<User | null>(null);
  const { busy, error, submit } = useSubmit(async () => {
    if (!picked) return;
    await call(api.POST("/channels/{id}/members", { params: { path: { id: channelId } }, body: { user_id: picked.id } }));
    await queryClient.invalidateQueries({ queryKey: keys.members(channelId) });
    onDone();
  });
  const candidates = (people.data ?? []).filter((u) => !memberIds.includes(u.id)).slice(0, 6);
  return (
    <div className="add-member">
      <input className="search" autoFocus type="search" placeholder="Find people to add" aria-label="Find people to add" value={q} onChange={(e) => setQ(e.target.value)} />
      <PeopleList people={candidates} selected={(u) => picked?.id === u.id} onPick={setPicked} size={24} />
      <FormError error={error} />
      <div className="dialog-actions">
        <button className="btn small" onClick={onDone}>
          Cancel
        </button>
        <button className="btn small primary" disabled={!picked || busy} onClick={() => void submit()}>
          Add
        </button>
      </div>
    </div>
  );
}

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
  const [adding, setAdding] = useState(false);
  return (
    <aside className="panel" aria-label="Members">
      <div className="panel-head">
        <h2>Members</h2>
        <button className="icon-btn" aria-label="Close members" onClick={onClose}>
          <Icon name="close" />
        </button>
      </div>
      <div className="panel-actions">
        {adding ? (
          <AddMember channelId={channelId} memberIds={(data ?? []).map((m) => m.user_id)} onDone={() => setAdding(false)} />
        ) : (
          <button className="btn small" onClick={() => setAdding(true)}>
            <Icon name="plus" size={14} /> Add people
          </button>
        )}
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
