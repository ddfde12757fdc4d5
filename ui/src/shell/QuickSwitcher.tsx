import { useMemo, useState } from "react";
import { Icon } from "../components/Icon";
import { useLocation } from "wouter";
import { Dialog } from "../components/Dialog";
import { useConversations, useMe } from "../store/data";
import { queryClient } from "../queryClient";
import type { User } from "../api/client";

/** Ctrl/Cmd+K: jump to any conversation by typing part of its name. */
export function QuickSwitcher({ onClose }: { onClose: () => void }) {
  const [, navigate] = useLocation();
  const { data: convs } = useConversations();
  const { data: me } = useMe();
  const [q, setQ] = useState("");
  const [sel, setSel] = useState(0);
  const name = (id: string) => {
    const u = queryClient.getQueryData<User>(["user", id]);
    return u ? u.display_name || u.username : "";
  };
  const items = useMemo(() => {
    const all = (convs ?? []).map((c) => ({
      c,
      label: c.name ?? c.participant_ids.filter((p) => p !== me?.id).map(name).join(", "),
    }));
    const needle = q.toLowerCase().replace(/^[#@]/, "");
    return all
      .filter((x) => !needle || x.label.toLowerCase().includes(needle))
      .sort((a, b) => Date.parse(b.c.last_message_at ?? b.c.created_at) - Date.parse(a.c.last_message_at ?? a.c.created_at))
      .slice(0, 12);
  }, [convs, q, me?.id]);
  const go = (i: number) => {
    const x = items[i];
    if (!x) return;
    onClose();
    navigate(`/w/${x.c.workspace_id}/c/${x.c.id}`);
  };
  return (
    <Dialog title="Jump to a conversation" onClose={onClose}>
      <input
        className="search"
        autoFocus
        placeholder="Channel or person"
        aria-label="Conversation name"
        role="combobox"
        aria-expanded="true"
        aria-controls="switcher-list"
        aria-activedescendant={items[sel] ? `sw-${items[sel].c.id}` : undefined}
        value={q}
        onChange={(e) => {
          setQ(e.target.value);
          setSel(0);
        }}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setSel((s) => Math.min(items.length - 1, s + 1));
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            setSel((s) => Math.max(0, s - 1));
          } else if (e.key === "Enter") {
            e.preventDefault();
            go(sel);
          }
        }}
      />
      <ul className="pick-list" id="switcher-list" role="listbox">
        {items.map((x, i) => (
          <li key={x.c.id} id={`sw-${x.c.id}`} role="option" aria-selected={i === sel}>
            <button className={i === sel ? "pick selected" : "pick"} onMouseEnter={() => setSel(i)} onClick={() => go(i)} tabIndex={-1}>
              <span className="side-icon"><Icon name={x.c.kind === "public" ? "hash" : x.c.kind === "private" ? "lock" : "at"} size={16} /></span>
              <span className="pick-main">
                <b>{x.label || "…"}</b>
              </span>
              {(x.c.unread_count ?? 0) > 0 ? <span className="badge">{x.c.unread_count}</span> : null}
            </button>
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
