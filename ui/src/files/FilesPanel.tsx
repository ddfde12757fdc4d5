import { useQuery } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { Icon } from "../components/Icon";
import { useDisplayName } from "../components/Avatar";
import { FileCard } from "./Attachments";

export const filesKey = (channelId: string) => ["files", channelId] as const;

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

function SharedBy({ id, at }: { id: string; at: string }) {
  return (
    <span className="muted shared-by">
      {useDisplayName(id)} · {dateFmt.format(new Date(at))}
    </span>
  );
}

/** The files shared in the conversation, newest first. */
export function FilesPanel({ channelId, onClose }: { channelId: string; onClose: () => void }) {
  const files = useQuery({
    queryKey: filesKey(channelId),
    queryFn: async () => (await call(api.GET("/channels/{id}/files", { params: { path: { id: channelId }, query: { limit: 100 } } }))).items,
  });
  return (
    <aside className="panel" aria-label="Files">
      <div className="panel-head">
        <h2>Files</h2>
        <button className="icon-btn" aria-label="Close files" onClick={onClose}>
          <Icon name="close" />
        </button>
      </div>
      <div className="thread-scroll files-list">
        {files.data?.length === 0 ? (
          <div className="empty-state">
            <Icon name="file" size={28} />
            <p>No files yet. Attach one with the paperclip, paste it, or drop it on the conversation.</p>
          </div>
        ) : null}
        {(files.data ?? []).map((s) => (
          <div key={`${s.message_id}:${s.file.id}`} className="shared-file">
            <FileCard file={s.file} />
            <SharedBy id={s.shared_by} at={s.shared_at} />
          </div>
        ))}
      </div>
    </aside>
  );
}
