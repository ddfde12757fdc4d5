import { useId, useState, type InputHTMLAttributes, type ReactNode } from "react";
import { ApiError } from "../api/client";

export function Field({
  label,
  error,
  hint,
  ...input
}: { label: string; error?: string | undefined; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const describedBy = error ? `${id}-err` : hint ? `${id}-hint` : undefined;
  return (
    <div className={error ? "field has-error" : "field"}>
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...input} />
      {error ? (
        <div className="field-error" id={`${id}-err`}>
          {error}
        </div>
      ) : hint ? (
        <div className="field-hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
    </div>
  );
}

export function FormError({ error }: { error: ApiError | null }) {
  if (!error || error.fieldErrors.length > 0) return null;
  return (
    <div className="form-error" role="alert">
      {error.message}
    </div>
  );
}

/** Submit state for a form: busy while the action runs, the ApiError when it fails. */
export function useSubmit<T>(action: () => Promise<T>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e?: { preventDefault(): void }) => {
    e?.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "unknown", String(err)));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit, setError };
}

/** The username field of the account forms (the server stores usernames lowercase). */
export function UsernameField({ value, onChange, error }: { value: string; onChange: (v: string) => void; error?: string | undefined }) {
  return (
    <Field
      label="Username"
      autoComplete="username"
      value={value}
      onChange={(e) => onChange(e.target.value.toLowerCase())}
      error={error}
      hint="Lowercase letters, digits, dots, dashes and underscores."
    />
  );
}

/** A new password (setup, registration). */
export function NewPasswordField({ value, onChange, error }: { value: string; onChange: (v: string) => void; error?: string | undefined }) {
  return <Field label="Password" type="password" autoComplete="new-password" value={value} onChange={(e) => onChange(e.target.value)} error={error} hint="At least 8 characters." />;
}
