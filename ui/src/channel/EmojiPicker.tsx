import { useEffect, useRef, useState } from "react";
import { EMOJI, searchEmoji } from "../lib/emoji";

export function EmojiPicker({ onPick, onClose }: { onPick: (emoji: string) => void; onClose: () => void }) {
  const [q, setQ] = useState("");
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const onDown = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) onClose();
    };
    document.addEventListener("mousedown", onDown);
    return () => document.removeEventListener("mousedown", onDown);
  }, [onClose]);
  const list = q ? searchEmoji(q, 60) : EMOJI;
  return (
    <div className="emoji-picker" ref={ref} role="dialog" aria-label="Pick an emoji">
      <input
        className="search"
        autoFocus
        placeholder="Search emoji"
        aria-label="Search emoji"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") onClose();
          if (e.key === "Enter" && list[0]) onPick(list[0][1]);
        }}
      />
      <div className="emoji-grid">
        {list.map(([name, e]) => (
          <button key={name} className="emoji-cell" title={`:${name}:`} aria-label={name} onClick={() => onPick(e)}>
            {e}
          </button>
        ))}
      </div>
    </div>
  );
}
