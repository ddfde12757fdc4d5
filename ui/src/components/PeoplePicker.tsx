import { useQuery } from "@tanstack/react-query";
import { api, call, type User } from "../api/client";
import { rememberUsers } from "../store/data";
import { Avatar } from "./Avatar";

/** People who share a workspace with the viewer, by name (`GET /users?query=`). */
export function usePeopleSearch(q: string) {
  return useQuery({
    queryKey: ["people", q],
    queryFn: async () => {
      const r = await call(api.GET("/users", { params: { query: { query: q || undefined, limit: 20 } } }));
      rememberUsers(r.items);
      return r.items;
    },
  });
}

/** A list of people to pick from; `selected` tells which are picked. */
export function PeopleList({ people, selected, onPick, size = 28 }: { people: User[]; selected: (u: User) => boolean; onPick: (u: User) => void; size?: number }) {
  return (
    <ul className="pick-list" aria-label="People">
      {people.map((u) => (
        <li key={u.id}>
          <button className={selected(u) ? "pick selected" : "pick"} aria-pressed={selected(u)} onClick={() => onPick(u)}>
            <Avatar userId={u.id} size={size} showPresence />
            <span className="pick-main">
              <b>{u.display_name || u.username}</b>
              <span className="muted">@{u.username}</span>
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}
