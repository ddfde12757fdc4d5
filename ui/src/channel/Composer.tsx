import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Icon } from "../components/Icon";
import { searchEmoji } from "../lib/emoji";
import { realtime } from "../realtime/socket";
import { useConversations } from "../store/data";
import { useMembers } from "./MembersPanel";
import { formatSize, uploadFile, type FileView } from "../files/upload";

/** A file being attached: its upload's progress, then the stored file. */
interface Attachment {
  key: string;
  file: File;
  progress: number;
  view?: FileView;
  error?: string;
  abort: AbortController;
}

/** At most this many files on one message (the server's limit). */
const MAX_FILES = 10;

const MAX = 40_000;
const TYPING_EVERY_MS = 3_000;

interface Suggestion {
  key: string;
  label: string;
  detail?: string;
  insert: string;
}

/** The token being typed before the caret: `@al`, `#gen`, `:smi`. */
export function activeToken(text: string, caret: number): { trigger: "@" | "#" | ":"; query: string; start: number } | null {
  const m = /(^|[\s(])([@#:])([\w.+-]*)$/.exec(text.slice(0, caret));
  if (!m) return null;
  const trigger = m[2] as "@" | "#" | ":";
  const query = m[3] ?? "";
  if (trigger === ":" && query.length < 2) return null;
  return { trigger, query, start: caret - query.length - 1 };
}

export function Composer({ channelId, draftId, ws, placeholder, onSend, dropped }: { channelId: string; draftId?: string; ws: string; placeholder: string; onSend: (text: string, fileIds: string[]) => void; dropped?: { files: File[]; n: number } }) {
  const draftKey = `colink:draft:${draftId ?? channelId}`;
  const [text, setText] = useState(() => localStorage.getItem(draftKey) ?? "");
  const [caret, setCaret] = useState(0);
  const [sel, setSel] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  const lastTyping = useRef(0);
  const members = useMembers(channelId);
  const convs = useConversations();
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  const picker = useRef<HTMLInputElement>(null);

  const update = (key: string, change: Partial<Attachment>) => setAttachments((all) => all.map((a) => (a.key === key ? { ...a, ...change } : a)));
  const addFiles = (files: File[]) => {
    const room = MAX_FILES - attachments.length;
    for (const file of files.slice(0, Math.max(0, room))) {
      const a: Attachment = { key: crypto.randomUUID(), file, progress: 0, abort: new AbortController() };
      setAttachments((all) => [...all, a]);
      uploadFile(file, channelId, (progress) => update(a.key, { progress }), a.abort.signal).then(
        (view) => update(a.key, { view, progress: 1 }),
        (e: unknown) => update(a.key, { error: e instanceof Error ? e.message : "The upload failed." }),
      );
    }
    ref.current?.focus();
  };
  const remove = (a: Attachment) => {
    a.abort.abort();
    setAttachments((all) => all.filter((x) => x.key !== a.key));
  };
  useEffect(() => {
    if (dropped && dropped.files.length > 0) addFiles(dropped.files);
    // Only a new drop adds files.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dropped?.n]);
  const uploading = attachments.some((a) => !a.view && !a.error);
  const ready = attachments.filter((a) => a.view).map((a) => a.view as FileView);

  useEffect(() => {
    if (text) localStorage.setItem(draftKey, text);
    else localStorage.removeItem(draftKey);
  }, [text, draftKey]);

  useEffect(() => {
    ref.current?.focus();
  }, [channelId, draftId]);

  // Grow with the text up to a limit.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [text]);

  const token = activeToken(text, caret);
  const suggestions: Suggestion[] = useMemo(() => {
    if (!token) return [];
    const q = token.query.toLowerCase();
    if (token.trigger === "@") {
      const people = (members.data ?? [])
        .filter((m) => m.username.startsWith(q) || m.display_name.toLowerCase().includes(q))
        .slice(0, 6)
        .map((m) => ({ key: m.user_id, label: `@${m.username}`, detail: m.display_name, insert: `@${m.username} ` }));
      const special = ["here", "channel"].filter((s) => s.startsWith(q)).map((s) => ({ key: s, label: `@${s}`, detail: s === "here" ? "Notify everyone online" : "Notify everyone in this channel", insert: `@${s} ` }));
      return [...people, ...special];
    }
    if (token.trigger === "#") {
      return (convs.data ?? [])
        .filter((c) => c.workspace_id === ws && (c.kind === "public" || c.kind === "private") && (c.name ?? "").startsWith(q))
        .slice(0, 6)
        .map((c) => ({ key: c.id, label: `#${c.name}`, detail: c.description ?? undefined, insert: `#${c.name} ` }));
    }
    return searchEmoji(q, 6).map(([name, e]) => ({ key: name, label: `${e}  :${name}:`, insert: `${e} ` }));
  }, [token?.trigger, token?.query, members.data, convs.data, ws]);

  const apply = (s: Suggestion) => {
    if (!token) return;
    const next = text.slice(0, token.start) + s.insert + text.slice(caret);
    const pos = token.start + s.insert.length;
    setText(next);
    setCaret(pos);
    requestAnimationFrame(() => ref.current?.setSelectionRange(pos, pos));
  };

  const submit = () => {
    if (uploading) return;
    // A message of files alone says which files it carries.
    const content = text.trim() || (ready.length > 0 ? `📎 ${ready.map((f) => f.filename).join(", ")}` : "");
    if (!content || content.length > MAX) return;
    onSend(content, ready.map((f) => f.id));
    setText("");
    setCaret(0);
    setAttachments([]);
  };

  const onKeyDown = (e: React.KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.nativeEvent.isComposing) return;
    if (suggestions.length > 0) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setSel((s) => (s + (e.key === "ArrowDown" ? 1 : suggestions.length - 1)) % suggestions.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        const s = suggestions[sel] ?? suggestions[0];
        if (s) apply(s);
        return;
      }
      if (e.key === "Escape") {
        setCaret(-1);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit();
    } else if (e.key === "ArrowUp" && text === "" && !draftId) {
      e.preventDefault();
      window.dispatchEvent(new CustomEvent("colink:edit-last", { detail: channelId }));
    }
  };

  const over = text.length > MAX;
  return (
    <div className="composer">
      {suggestions.length > 0 ? (
        <ul className="suggestions" role="listbox" aria-label="Suggestions">
          {suggestions.map((s, i) => (
            <li key={s.key} role="option" aria-selected={i === sel % suggestions.length}>
              <button
                className={i === sel % suggestions.length ? "pick selected" : "pick"}
                onMouseDown={(e) => {
                  e.preventDefault();
                  apply(s);
                }}
              >
                <b>{s.label}</b>
                {s.detail ? <span className="muted">{s.detail}</span> : null}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {attachments.length > 0 ? (
        <ul className="attach-list" aria-label="Attachments">
          {attachments.map((a) => (
            <li key={a.key} className={a.error ? "attach-chip failed" : "attach-chip"}>
              <Icon name="file" size={16} />
              <span className="attach-name" title={a.file.name}>
                {a.file.name}
              </span>
              <span className="muted attach-size">{a.error ? a.error : a.view ? formatSize(a.file.size) : `${Math.round(a.progress * 100)}%`}</span>
              {!a.view && !a.error ? (
                <span className="attach-progress" role="progressbar" aria-label={`Uploading ${a.file.name}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(a.progress * 100)}>
                  <span style={{ width: `${Math.round(a.progress * 100)}%` }} />
                </span>
              ) : null}
              <button className="icon-btn" aria-label={`Remove ${a.file.name}`} onClick={() => remove(a)}>
                <Icon name="close" size={14} />
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <div className={over ? "composer-box over" : "composer-box"}>
        <button className="icon-btn attach" aria-label="Attach files" title="Attach files" onClick={() => picker.current?.click()} disabled={attachments.length >= MAX_FILES}>
          <Icon name="clip" size={18} />
        </button>
        <input
          ref={picker}
          type="file"
          multiple
          hidden
          aria-label="Choose files"
          onChange={(e) => {
            addFiles(Array.from(e.target.files ?? []));
            e.target.value = "";
          }}
        />
        <textarea
          ref={ref}
          rows={1}
          value={text}
          placeholder={placeholder}
          aria-label={placeholder}
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart);
            setSel(0);
            const now = Date.now();
            if (e.target.value && now - lastTyping.current > TYPING_EVERY_MS) {
              lastTyping.current = now;
              realtime.typing(channelId);
            }
          }}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
          onKeyDown={onKeyDown}
          onPaste={(e) => {
            const files = Array.from(e.clipboardData.files);
            if (files.length > 0) {
              e.preventDefault();
              addFiles(files);
            }
          }}
        />
        <button className="send" aria-label="Send" disabled={(!text.trim() && ready.length === 0) || over || uploading} onClick={submit}>
          <Icon name="send" size={17} />
        </button>
      </div>
      <div className="composer-hint muted">
        {over ? <span className="danger">{text.length - MAX} characters too long</span> : uploading ? <>Uploading… the message can be sent when the files are up</> : <><b>Enter</b> to send · <b>Shift+Enter</b> for a new line</>}
      </div>
    </div>
  );
}
