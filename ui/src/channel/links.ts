import { createContext, useContext, useMemo } from "react";
import { useLocation } from "wouter";
import { useConversations } from "../store/data";

export interface Links {
  ws: string;
  channelHref: (name: string) => string | undefined;
  navigate: (href: string) => void;
}

/** How messages link `#channel` names: the viewer's channels in this workspace. */
export const LinksContext = createContext<Links | null>(null);

export function useLinks(): Links | null {
  return useContext(LinksContext);
}

export function useWorkspaceLinks(ws: string): Links {
  const { data } = useConversations();
  const [, navigate] = useLocation();
  return useMemo(() => {
    const byName = new Map<string, string>();
    for (const c of data ?? []) {
      if (c.workspace_id === ws && c.name && (c.kind === "public" || c.kind === "private")) byName.set(c.name, `/w/${ws}/c/${c.id}`);
    }
    return { ws, channelHref: (name: string) => byName.get(name), navigate: (href: string) => navigate(href) };
  }, [data, ws, navigate]);
}
