import { createContext, useContext } from "react";

/** Opens a message's thread in the side panel (absent inside the thread panel itself). */
export const ThreadOpener = createContext<((rootId: string) => void) | null>(null);

export function useThreadOpener() {
  return useContext(ThreadOpener);
}
