import type { ReactNode } from "react";
import { emojiFor } from "../lib/emoji";

const ENTITIES: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'" };

function unescape(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|#39);/g, (e) => ENTITIES[e] ?? e);
}

/** Markdown's emphasis and code marks dropped, `:shortcodes:` as emoji: results read as text. */
export function plain(s: string): string {
  return s.replace(/\*\*|__|~~|`/g, "").replace(/:([a-z0-9_+-]+):/g, (all, name: string) => emojiFor(name) ?? all);
}

/**
 * The server's highlight (HTML-escaped text with matches in `<mark>`) as React nodes: the text is
 * unescaped and rendered as text, so nothing in it can become markup.
 */
export function Highlight({ html }: { html: string }): ReactNode {
  const parts = html.split(/<\/?mark>/);
  return parts.map((p, i) => (i % 2 === 1 ? <mark key={i}>{plain(unescape(p))}</mark> : plain(unescape(p))));
}

/** The word being typed at the end of `q`, if it is an operator that takes a name. */
export function pendingOperator(q: string): { op: "in" | "from"; prefix: string } | null {
  const m = /(?:^|\s)(in:#?|from:@?)([^\s"]*)$/i.exec(q);
  if (!m) return null;
  const [, op = "", prefix = ""] = m;
  return { op: op.toLowerCase().startsWith("in") ? "in" : "from", prefix: prefix.toLowerCase() };
}

/** `q` with its last (operator) word replaced by the completed one, and a space to go on. */
export function complete(q: string, op: "in" | "from", name: string): string {
  return q.replace(/(in:#?|from:@?)([^\s"]*)$/i, op === "in" ? `in:#${name} ` : `from:@${name} `);
}
