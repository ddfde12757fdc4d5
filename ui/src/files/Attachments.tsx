import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Dialog } from "../components/Dialog";
import { Icon } from "../components/Icon";
import { downloadUrl, formatSize, type FileView } from "./upload";

const IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
/** URLs live 5 minutes: fetch a new one after 4. */
const URL_FRESH_MS = 4 * 60_000;

export function useFileUrl(id: string, thumbnail: boolean, enabled = true) {
  return useQuery({ queryKey: ["file-url", id, thumbnail], queryFn: () => downloadUrl(id, thumbnail), staleTime: URL_FRESH_MS, gcTime: URL_FRESH_MS, enabled });
}

/** Open the file's download (the server names it and sends it as an attachment). */
export async function download(id: string) {
  const url = await downloadUrl(id);
  const a = document.createElement("a");
  a.href = url;
  a.rel = "noopener";
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** A message's files: images as previews (click for the lightbox), the rest as cards. */
export function Attachments({ files }: { files: FileView[] }) {
  const [open, setOpen] = useState<FileView | null>(null);
  if (files.length === 0) return null;
  return (
    <div className="attachments">
      {files.map((f) =>
        IMAGES.includes(f.content_type) && f.status === "clean" ? (
          <ImagePreview key={f.id} file={f} onOpen={() => setOpen(f)} />
        ) : (
          <FileCard key={f.id} file={f} />
        ),
      )}
      {open ? <Lightbox file={open} onClose={() => setOpen(null)} /> : null}
    </div>
  );
}

function fit(f: FileView, maxW: number, maxH: number): { width: number; height: number } {
  const w = f.width ?? maxW;
  const h = f.height ?? maxH;
  const scale = Math.min(1, maxW / w, maxH / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

function ImagePreview({ file, onOpen }: { file: FileView; onOpen: () => void }) {
  // The thumbnail when it is ready; a small original until then.
  const url = useFileUrl(file.id, file.has_thumbnail, file.has_thumbnail || file.size_bytes < 2_000_000);
  const size = fit(file, 360, 240);
  return (
    <button className="image-preview" style={size} onClick={onOpen} aria-label={`Open ${file.filename}`} title={file.filename}>
      {url.data ? <img src={url.data} alt={file.filename} width={size.width} height={size.height} /> : <span className="muted">{file.filename}</span>}
    </button>
  );
}

export function FileCard({ file }: { file: FileView }) {
  const scanning = file.status === "pending" || file.status === "uploading";
  return (
    <div className="file-card">
      <span className="file-icon" aria-hidden="true">
        <Icon name="file" size={20} />
      </span>
      <span className="file-meta">
        <b className="file-name">{file.filename}</b>
        <span className="muted">
          {formatSize(file.size_bytes)}
          {scanning ? " · scanning for viruses…" : ""}
        </span>
      </span>
      <button className="icon-btn" aria-label={`Download ${file.filename}`} title="Download" disabled={scanning} onClick={() => void download(file.id)}>
        <Icon name="download" size={18} />
      </button>
    </div>
  );
}

function Lightbox({ file, onClose }: { file: FileView; onClose: () => void }) {
  const url = useFileUrl(file.id, false);
  return (
    <Dialog title={file.filename} onClose={onClose} wide>
      <div className="lightbox">
        {url.data ? <img src={url.data} alt={file.filename} /> : <p className="muted">Loading…</p>}
        <div className="lightbox-bar">
          <span className="muted">
            {file.width && file.height ? `${file.width} × ${file.height} · ` : ""}
            {formatSize(file.size_bytes)}
          </span>
          <button className="btn small" onClick={() => void download(file.id)}>
            <Icon name="download" size={16} /> Download
          </button>
        </div>
      </div>
    </Dialog>
  );
}
