/**
 * Uploading files: small ones in one PUT to the URL the server hands out (CoLink's own signed
 * URL, or S3 presigned), large ones as a resumable upload in chunks. A resumable upload is
 * remembered by the file's name, size and modification time, so picking the same file again
 * after a reload (or a lost connection) sends only the chunks the server is missing.
 */
import { api, call, ApiError, type Schemas } from "../api/client";
import { session } from "../api/session";

export type FileView = Schemas["FileView"];

/** Files up to this size go in one request; larger ones in chunks. */
export const DIRECT_MAX = 8 * 1024 * 1024;
const CHUNK = 8 * 1024 * 1024;

const memoryKey = (f: File) => `colink:upload:${f.name}:${f.size}:${f.lastModified}`;

/** PUT a body with progress (fetch cannot report upload progress). */
function put(url: string, body: Blob, headers: Record<string, string>, onProgress: (sent: number) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        let detail = `The upload failed (${xhr.status}).`;
        try {
          const p = JSON.parse(xhr.responseText) as { detail?: string; code?: string };
          if (p.detail) detail = p.detail;
          reject(new ApiError(xhr.status, p.code ?? "upload_failed", detail));
          return;
        } catch {
          /* not a problem document */
        }
        reject(new ApiError(xhr.status, "upload_failed", detail));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "The connection dropped during the upload."));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "Upload cancelled."));
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(body);
  });
}

/** Upload `file` (for `channelId`); `onProgress` gets 0…1. */
export async function uploadFile(file: File, channelId: string, onProgress: (p: number) => void, signal?: AbortSignal): Promise<FileView> {
  const contentType = file.type || "application/octet-stream";
  if (file.size <= DIRECT_MAX) {
    const target = await call(api.POST("/files/upload-url", { body: { filename: file.name, content_type: contentType, size_bytes: file.size, channel_id: channelId } }));
    await put(target.upload_url, file, target.headers, (sent) => onProgress(file.size ? (sent / file.size) * 0.95 : 0.95), signal);
    const f = await call(api.POST("/files/{id}/confirm", { params: { path: { id: target.file_id } } }));
    onProgress(1);
    return f;
  }
  return uploadResumable(file, contentType, channelId, onProgress, signal);
}

async function uploadResumable(file: File, contentType: string, channelId: string, onProgress: (p: number) => void, signal?: AbortSignal): Promise<FileView> {
  const remembered = localStorage.getItem(memoryKey(file));
  let status = null as Schemas["UploadStatus"] | null;
  if (remembered) {
    try {
      status = await call(api.GET("/files/uploads/{id}", { params: { path: { id: remembered } } }));
      if (status.status !== "open") status = null;
    } catch {
      status = null;
    }
  }
  if (!status) {
    status = await call(api.POST("/files/uploads", { body: { filename: file.name, content_type: contentType, size_bytes: file.size, chunk_size: CHUNK, channel_id: channelId } }));
    localStorage.setItem(memoryKey(file), status.upload_id);
  }
  const { upload_id: id, chunk_size: size } = status;
  let done = (status.total_chunks - status.missing_chunks.length) * size;
  onProgress(Math.min(done / file.size, 0.99));
  for (const n of status.missing_chunks) {
    const part = file.slice(n * size, Math.min((n + 1) * size, file.size));
    const token = session.accessToken();
    await put(`${location.origin}/api/v1/files/uploads/${id}/chunks/${n}`, part, { "Content-Type": "application/octet-stream", ...(token ? { Authorization: `Bearer ${token}` } : {}) }, (sent) => onProgress(Math.min((done + sent) / file.size, 0.99)), signal);
    done += part.size;
  }
  const f = await call(api.POST("/files/uploads/{id}/complete", { params: { path: { id } } }));
  localStorage.removeItem(memoryKey(file));
  onProgress(1);
  return f;
}

/** `1.2 MB`, `340 KB`, `12 B`. */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A download URL for the file (or its thumbnail); they live 5 minutes. */
export async function downloadUrl(id: string, thumbnail = false): Promise<string> {
  return (await call(api.GET("/files/{id}/download-url", { params: { path: { id }, query: { thumbnail } } }))).url;
}
