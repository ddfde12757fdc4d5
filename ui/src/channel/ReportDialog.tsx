import { useState } from "react";
import { api, call, type Message } from "../api/client";
import { Dialog } from "../components/Dialog";
import { FormError, useSubmit } from "../components/Form";

/** Report a message to the admins, with a reason; one open report per person and message. */
export function ReportDialog({ message, onClose }: { message: Message; onClose: () => void }) {
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<"sent" | "already" | null>(null);
  const send = useSubmit(async () => {
    try {
      await call(api.POST("/messages/{id}/report", { params: { path: { id: message.id } }, body: { reason: reason.trim() } }));
      setDone("sent");
    } catch (e) {
      if (e instanceof Error && "status" in e && e.status === 409) setDone("already");
      else throw e;
    }
  });
  return (
    <Dialog title="Report message" onClose={onClose}>
      {done ? (
        <>
          <p role="status">{done === "sent" ? "Thanks. The admins will take a look; the person you reported is not told who reported them." : "You already reported this message; the admins have not looked at it yet."}</p>
          <div className="row-actions end">
            <button className="btn primary" onClick={onClose} autoFocus>
              Done
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={send.submit}>
          <blockquote className="report-quote">{message.content}</blockquote>
          <div className="field">
            <label htmlFor="report-reason">What's wrong with it?</label>
            <input id="report-reason" required maxLength={500} placeholder="Spam, harassment, something else…" value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />
          </div>
          <FormError error={send.error} />
          <div className="row-actions end">
            <button type="button" className="btn" onClick={onClose}>
              Cancel
            </button>
            <button className="btn primary" disabled={send.busy || !reason.trim()}>
              Report to admins
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
