/** Server state shared by the shell: who I am, my workspaces, my conversations, people. */
import { useQueries, useQuery } from "@tanstack/react-query";
import { api, call, type Conversation, type User } from "../api/client";
import { queryClient } from "../queryClient";

export const keys = {
  me: ["me"] as const,
  workspaces: ["workspaces"] as const,
  conversations: ["conversations"] as const,
  user: (id: string) => ["user", id] as const,
  members: (channel: string) => ["members", channel] as const,
  browse: (ws: string) => ["browse", ws] as const,
};

export function useMe() {
  return useQuery({ queryKey: keys.me, queryFn: () => call(api.GET("/users/me")), staleTime: 60_000 });
}

export function useWorkspaces() {
  return useQuery({ queryKey: keys.workspaces, queryFn: async () => (await call(api.GET("/workspaces"))).items });
}

/** Every conversation the user is in (all pages; people are in tens to hundreds). */
export async function fetchConversations(): Promise<Conversation[]> {
  const all: Conversation[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 25; i++) {
    const page = await call(api.GET("/conversations", { params: { query: { limit: 200, cursor } } }));
    all.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return all;
}

export function useConversations() {
  return useQuery({ queryKey: keys.conversations, queryFn: fetchConversations, staleTime: 60_000 });
}

export function useConversation(id: string | undefined): Conversation | undefined {
  const { data } = useConversations();
  return id ? data?.find((c) => c.id === id) : undefined;
}

/** Patch one conversation in the cache. */
export function patchConversation(id: string, fn: (c: Conversation) => Conversation) {
  queryClient.setQueryData<Conversation[]>(keys.conversations, (list) => list?.map((c) => (c.id === id ? fn(c) : c)));
}

function userQuery(id: string | null | undefined) {
  return {
    queryKey: keys.user(id ?? ""),
    queryFn: () => call(api.GET("/users/{id}", { params: { path: { id: id as string } } })),
    enabled: !!id,
    staleTime: 5 * 60_000,
  };
}

export function useUser(id: string | null | undefined) {
  return useQuery(userQuery(id));
}

/**
 * A conversation's title (the channel's name, or the names of the other people of a DM) and,
 * for a one-to-one DM, the other person (for their presence).
 */
export function useConversationTitle(c: Conversation | undefined, me: string | undefined): { title: string; partner: User | undefined; partnerId: string | undefined } {
  const direct = c?.kind === "dm" || c?.kind === "group_dm";
  const others = direct && c ? c.participant_ids.filter((p) => p !== me) : [];
  // A DM with oneself is titled with one's own name.
  const people = direct && others.length === 0 && me ? [me] : others;
  const users = useQueries({ queries: people.map((id) => userQuery(id)) });
  const names = new Map(people.map((id, i) => {
    const u = users[i]?.data;
    return [id, u ? u.display_name || u.username : "…"] as const;
  }));
  const partnerId = c?.kind === "dm" ? people[0] : undefined;
  return {
    title: c ? conversationTitle(c, me, (id) => names.get(id) ?? "…") : "",
    partner: partnerId ? users[0]?.data : undefined,
    partnerId,
  };
}

/** Seed the people cache from a list that already has them (members, search results). */
export function rememberUsers(users: User[]) {
  for (const u of users) queryClient.setQueryData(keys.user(u.id), u);
}

/** The name to show for a conversation: channel name, or the other people of a DM. */
export function conversationTitle(c: Conversation, me: string | undefined, name: (id: string) => string): string {
  if (c.kind === "public" || c.kind === "private") return c.name ?? "channel";
  const others = c.participant_ids.filter((p) => p !== me);
  if (others.length === 0) return `${name(me ?? "")} (you)`;
  return others.map(name).join(", ");
}
