import { memo, useEffect, useRef, useState } from "react";
import { Icon } from "../components/Icon";
import { api, call, type Message, type User } from "../api/client";
import { Markdown } from "../lib/markdown";
import { Avatar, useDisplayName } from "../components/Avatar";
import { EmojiPicker } from "./EmojiPicker";
import { timelines } from "../store/timelines";
import { dropPending } from "../lib/timeline";
import type { Pending } from "../lib/timeline";
import { resend, toggleReaction } from "./actions";
import { useThreadOpener } from "./threadContext";
import { useLinks } from "./links";
import { ProfileCard } from "../components/ProfileCard";
import { useUser } from "../store/data";
import { Attachments } from "../files/Attachments";
import { ReportDialog } from "./ReportDialog";

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

function Reactions({ m, me }: { m: Message; me: string }) {
  if (m.reactions.length === 0) return null;
  return (
    <div className="reactions">
      {m.reactions.map((r) => (
        <ReactionChip key={r.emoji} emoji={r.emoji} count={r.count} mine={r.me} userIds={r.user_ids} onClick={() => void toggleReaction(m, r.emoji, me)} />
      ))}
    </div>
  );
}

function WhoName({ id }: { id: string }) {
  return <>{useDisplayName(id)}</>;
}

function ReactionChip({ emoji, count, mine, userIds, onClick }: { emoji: string; count: number; mine: boolean; userIds: string[]; onClick: () => void }) {
  const [hover, setHover] = useState(false);
  return (
    <button
      className={mine ? "reaction mine" : "reaction"}
      aria-pressed={mine}
      aria-label={`${emoji} ${count}${mine ? ", including you" : ""}`}
      onClick={onClick}
      onMouseEnter={() => setHover(true)}
      onMouseLeave={() => setHover(false)}
      onFocus={() => setHover(true)}
      onBlur={() => setHover(false)}
    >
      <span>{emoji}</span>
      <span className="count">{count}</span>
      {hover ? (
        <span className="tooltip" role="tooltip">
          {userIds.slice(0, 8).map((id, i) => (
            <span key={id}>
              {i > 0 ? ", " : ""}
              <WhoName id={id} />
            </span>
          ))}
          {userIds.length > 8 ? ` and ${userIds.length - 8} more` : ""}
        </span>
      ) : null}
    </button>
  );
}

function Header({ userId, at, grouped }: { userId: string; at: string; grouped: boolean }) {
  const { data: user } = useUser(userId);
  const [card, setCard] = useState(false);
  const links = useLinks();
  const d = new Date(at);
  if (grouped) return null;
  return (
    <div className="msg-head">
      <button className="msg-author" onClick={() => setCard(!card)} aria-haspopup="dialog">
        {user ? user.display_name || user.username : "…"}
      </button>
      {card ? <ProfileCard userId={userId} ws={links?.ws} onClose={() => setCard(false)} /> : null}
      {user?.status?.emoji ? <span title={user.status.text}>{user.status.emoji}</span> : null}
      <time dateTime={at} title={fullFmt.format(d)}>
        {timeFmt.format(d)}
      </time>
    </div>
  );
}

export const MessageItem = memo(function MessageItem({
  message: m,
  grouped,
  me,
  editing,
  onEdit,
  focused = false,
}: {
  message: Message;
  grouped: boolean;
  me: User | undefined;
  editing: boolean;
  onEdit: (on: boolean) => void;
  /** Opened from search: marked until the reader moves on. */
  focused?: boolean;
}) {
  const [picker, setPicker] = useState(false);
  const [reporting, setReporting] = useState(false);
  const openThread = useThreadOpener();
  const links = useLinks();
  const mine = m.user_id === me?.id;
  const canDelete = mine || me?.role === "admin" || me?.role === "owner";
  const d = new Date(m.created_at);
  if (m.deleted) {
    return (
      <div className={grouped ? "msg grouped deleted" : "msg deleted"}>
        <div className="msg-gutter">{grouped ? null : <Avatar userId={m.user_id} />}</div>
        <div className="msg-body">
          <Header userId={m.user_id} at={m.created_at} grouped={grouped} />
          <p className="muted italic">This message was deleted.</p>
        </div>
      </div>
    );
  }
  return (
    <article className={`msg${grouped ? " grouped" : ""}${m.mentions.user_ids.includes(me?.id ?? "") || m.mentions.channel || m.mentions.here ? " mentioned" : ""}${m.pinned ? " pinned" : ""}${m.hidden ? " held" : ""}${focused ? " focused" : ""}`} aria-label={`Message ${m.seq}`}>
      <div className="msg-gutter">
        {grouped ? (
          <time className="gutter-time" dateTime={m.created_at} title={fullFmt.format(d)}>
            {timeFmt.format(d)}
          </time>
        ) : (
          <Avatar userId={m.user_id} />
        )}
      </div>
      <div className="msg-body">
        <Header userId={m.user_id} at={m.created_at} grouped={grouped} />
        {m.pinned ? <div className="pinned-tag"><Icon name="pin" size={13} /> Pinned</div> : null}
        {m.hidden ? (
          <div className="held-tag" role="note">
            <Icon name="lock" size={13} /> Only visible to you and admins: held for review by a moderation rule
          </div>
        ) : null}
        {editing ? (
          <EditBox message={m} onDone={() => onEdit(false)} />
        ) : (
          <div className="msg-content">
            <Markdown text={m.content} me={me?.username} channelHref={links?.channelHref} navigate={links?.navigate} />
            {m.edited_at ? <span className="edited" title={fullFmt.format(new Date(m.edited_at))}>(edited)</span> : null}
            <Attachments files={m.files ?? []} />
          </div>
        )}
        {me ? <Reactions m={m} me={me.id} /> : null}
        {m.reply_count > 0 && openThread && !m.thread_root_id ? (
          <button className="replies link" onClick={() => openThread(m.id)}>
            {m.reply_count} {m.reply_count === 1 ? "reply" : "replies"}
            {m.last_reply_at ? <span className="muted"> · last {timeFmt.format(new Date(m.last_reply_at))}</span> : null}
          </button>
        ) : null}
      </div>
      {me && !editing ? (
        <div className="msg-actions" role="toolbar" aria-label="Message actions">
          <button className="icon-btn small" aria-label="Add reaction" title="Add reaction" onClick={() => setPicker(!picker)}>
            <Icon name="smile" />
          </button>
          {["👍", "🎉", "👀"].map((e) => (
            <button key={e} className="icon-btn small" aria-label={`React with ${e}`} onClick={() => void toggleReaction(m, e, me.id)}>
              {e}
            </button>
          ))}
          {openThread && !m.thread_root_id ? (
            <button className="icon-btn small" aria-label="Reply in thread" title="Reply in thread" onClick={() => openThread(m.id)}>
              <Icon name="reply" />
            </button>
          ) : null}
          <button
            className="icon-btn small"
            aria-label={m.pinned ? "Unpin" : "Pin"}
            title={m.pinned ? "Unpin" : "Pin to channel"}
            onClick={() => void call(m.pinned ? api.DELETE("/messages/{id}/pin", { params: { path: { id: m.id } } }) : api.POST("/messages/{id}/pin", { params: { path: { id: m.id } } }))}
          >
            <Icon name="pin" />
          </button>
          {mine ? (
            <button className="icon-btn small" aria-label="Edit message" title="Edit" onClick={() => onEdit(true)}>
              <Icon name="edit" />
            </button>
          ) : null}
          {canDelete ? (
            <button
              className="icon-btn small"
              aria-label="Delete message"
              title="Delete"
              onClick={() => {
                if (confirm("Delete this message? This can't be undone.")) void call(api.DELETE("/messages/{id}", { params: { path: { id: m.id } } }));
              }}
            >
              <Icon name="trash" />
            </button>
          ) : null}
          {!mine && !m.deleted ? (
            <button className="icon-btn small" aria-label="Report message" title="Report to admins" onClick={() => setReporting(true)}>
              <Icon name="flag" />
            </button>
          ) : null}
          {picker ? (
            <EmojiPicker
              onPick={(e) => {
                setPicker(false);
                void toggleReaction(m, e, me.id);
              }}
              onClose={() => setPicker(false)}
            />
          ) : null}
        </div>
      ) : null}
      {reporting ? <ReportDialog message={m} onClose={() => setReporting(false)} /> : null}
    </article>
  );
});

function EditBox({ message, onDone }: { message: Message; onDone: () => void }) {
  const [text, setText] = useState(message.content);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el) {
      el.focus();
      el.setSelectionRange(el.value.length, el.value.length);
    }
  }, []);
  const save = async () => {
    if (!text.trim() || text === message.content) return onDone();
    setBusy(true);
    try {
      await call(api.PUT("/messages/{id}", { params: { path: { id: message.id } }, body: { content: text } }));
      onDone();
    } catch {
      setBusy(false);
    }
  };
  return (
    <div className="edit-box">
      <textarea
        ref={ref}
        value={text}
        aria-label="Edit message"
        rows={Math.min(10, text.split("\n").length)}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") onDone();
          if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            void save();
          }
        }}
      />
      <div className="edit-actions">
        <span className="muted">Esc to cancel · Enter to save</span>
        <button className="btn small" onClick={onDone}>
          Cancel
        </button>
        <button className="btn small primary" disabled={busy} onClick={() => void save()}>
          Save
        </button>
      </div>
    </div>
  );
}

export function PendingItem({ pending: p, grouped, me }: { pending: Pending; grouped: boolean; me: User | undefined }) {
  return (
    <div className={`msg${grouped ? " grouped" : ""} pending ${p.state}`}>
      <div className="msg-gutter">{grouped || !me ? null : <Avatar userId={me.id} />}</div>
      <div className="msg-body">
        {grouped || !me ? null : <Header userId={me.id} at={p.created_at} grouped={false} />}
        <div className="msg-content">
          <Markdown text={p.content} me={me?.username} />
        </div>
        {p.state === "failed" ? (
          <div className="send-failed" role="alert">
            Not sent{p.error ? `: ${p.error}` : "."}{" "}
            <button className="link" onClick={() => void resend(p)}>
              Retry
            </button>{" "}
            ·{" "}
            <button className="link" onClick={() => timelines.update(p.thread_root_id ? `thread:${p.thread_root_id}` : p.channel_id, (t) => dropPending(t, p.client_id))}>
              Discard
            </button>
          </div>
        ) : null}
      </div>
    </div>
  );
}
