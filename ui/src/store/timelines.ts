/** Per-conversation timelines (see lib/timeline.ts for the rules), observable from React. */
import { useSyncExternalStore } from "react";
import { EMPTY, type Timeline } from "../lib/timeline";

class Timelines {
  private map = new Map<string, Timeline>();
  private listeners = new Map<string, Set<() => void>>();

  get(id: string): Timeline {
    return this.map.get(id) ?? EMPTY;
  }

  update(id: string, fn: (t: Timeline) => Timeline) {
    const before = this.get(id);
    const after = fn(before);
    if (after === before) return;
    this.map.set(id, after);
    for (const l of this.listeners.get(id) ?? []) l();
  }

  subscribe(id: string, fn: () => void): () => void {
    let set = this.listeners.get(id);
    if (!set) {
      set = new Set();
      this.listeners.set(id, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Keys of the loaded timelines that hold a message (a reply can be in its thread's only). */
  keysHolding(messageId: string, prefix: string): string[] {
    const out: string[] = [];
    for (const [k, t] of this.map) if (k.startsWith(prefix) && t.messages.some((m) => m.id === messageId)) out.push(k);
    return out;
  }

  clear() {
    this.map.clear();
  }
}

export const timelines = new Timelines();

/** The timeline key of a thread (channels use their id). */
export const threadKey = (rootId: string) => `thread:${rootId}`;
export const threadKeysHolding = (messageId: string) => timelines.keysHolding(messageId, "thread:");

export function useTimeline(id: string): Timeline {
  return useSyncExternalStore(
    (cb) => timelines.subscribe(id, cb),
    () => timelines.get(id),
  );
}
