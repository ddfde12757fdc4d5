import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, call, ApiError, type Schemas } from "../api/client";
import { Icon } from "../components/Icon";
import { queryClient } from "../queryClient";

type Setting = Schemas["SettingView"];
type Json = unknown;

const key = ["admin", "settings"];

/** Keys whose value is one of a few words. */
const CHOICES: Record<string, string[]> = {
  "auth.registration": ["open", "invite", "closed"],
};

/** The section a key belongs to, as the configuration file groups it. */
function sectionOf(k: string): string {
  const parts = k.split(".");
  return parts.length === 1 ? "general" : (parts[0] as string);
}

/** `/admin/settings`: the configuration in force, documented; run-time keys editable here. */
export function SettingsPage() {
  const list = useQuery({ queryKey: key, queryFn: () => call(api.GET("/admin/settings")) });
  const [filter, setFilter] = useState("");
  const [onlyRuntime, setOnlyRuntime] = useState(false);
  const groups = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const out = new Map<string, Setting[]>();
    for (const s of list.data?.items ?? []) {
      if (onlyRuntime && !s.runtime) continue;
      if (f && !s.key.includes(f) && !(s.doc ?? "").toLowerCase().includes(f)) continue;
      const sec = sectionOf(s.key);
      out.set(sec, [...(out.get(sec) ?? []), s]);
    }
    return [...out.entries()];
  }, [list.data, filter, onlyRuntime]);
  return (
    <>
      <header className="admin-head">
        <h1>Settings</h1>
      </header>
      <p className="muted settings-intro">
        The configuration in force (secrets hidden). Settings marked <span className="tag ok">live</span> change here and apply on every server within seconds; the others are read at start-up: change them in
        the configuration file or the environment and restart.
      </p>
      <div className="toolbar">
        <input className="grow" type="search" placeholder="Find a setting" aria-label="Find a setting" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <label className="inline small">
          <input type="checkbox" checked={onlyRuntime} onChange={(e) => setOnlyRuntime(e.target.checked)} /> Only settings that change live
        </label>
      </div>
      {groups.map(([section, items]) => (
        <section key={section} className="settings-section">
          <h2>{section === "general" ? "General" : `[${section}]`}</h2>
          <ul className="settings-list card flush">
            {items.map((s) => (
              <SettingRow key={s.key} s={s} />
            ))}
          </ul>
        </section>
      ))}
    </>
  );
}

function SettingRow({ s }: { s: Setting }) {
  const [draft, setDraft] = useState<Json | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const value = draft ?? s.value;
  const changed = draft !== null && JSON.stringify(draft) !== JSON.stringify(s.value);
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      setDraft(null);
      await queryClient.invalidateQueries({ queryKey: key });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const path = { params: { path: { key: s.key } } };
  const [section, ...rest] = s.key.split(".");
  const fileKey = rest.length === 0 ? s.key : `[${[section, ...rest.slice(0, -1)].join(".")}] ${rest.at(-1)}`;
  return (
    <li className="setting">
      <div className="setting-head">
        <code className="setting-key">{s.key}</code>
        {s.runtime ? <span className="tag ok">live</span> : <span className="tag plain" title="Read at start-up">restart</span>}
        {s.overridden ? <span className="tag warn">changed here</span> : null}
      </div>
      {s.doc ? <p className="setting-doc">{s.doc}</p> : null}
      {s.runtime ? (
        <form
          className="setting-edit"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => call(api.PUT("/admin/settings/{key}", { ...path, body: { value: value as never } })));
          }}
        >
          <Editor k={s.key} value={value} onChange={setDraft} />
          <button className="btn small primary" disabled={busy || !changed}>
            Save
          </button>
          {s.overridden ? (
            <button type="button" className="btn small" disabled={busy} onClick={() => void run(() => call(api.DELETE("/admin/settings/{key}", path)))} title="Go back to the configuration file's value">
              Reset
            </button>
          ) : null}
        </form>
      ) : (
        <div className="setting-readonly">
          <code>{typeof s.value === "string" ? s.value || "(empty)" : JSON.stringify(s.value)}</code>
          <span className="muted small">
            <Icon name="lock" size={13} /> {fileKey} in config.toml, or {s.env}
          </span>
        </div>
      )}
      {error ? (
        <div className="field-error" role="alert">
          {error}
        </div>
      ) : null}
    </li>
  );
}

/** An input for a value: a choice, a number, a word, or each field of a small table. */
function Editor({ k, value, onChange }: { k: string; value: Json; onChange: (v: Json) => void }) {
  const choices = CHOICES[k];
  if (choices && typeof value === "string")
    return (
      <select aria-label={k} value={value} onChange={(e) => onChange(e.target.value)}>
        {choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, Json>;
    return (
      <span className="setting-fields">
        {Object.entries(obj).map(([field, v]) => (
          <label key={field} className="small">
            {field.replace("_", " ")}
            <Scalar label={`${k}.${field}`} value={v} onChange={(nv) => onChange({ ...obj, [field]: nv })} />
          </label>
        ))}
      </span>
    );
  }
  return <Scalar label={k} value={value} onChange={onChange} />;
}

function Scalar({ label, value, onChange }: { label: string; value: Json; onChange: (v: Json) => void }) {
  if (typeof value === "number")
    return <input aria-label={label} type="number" min={0} value={value} onChange={(e) => onChange(e.target.value === "" ? 0 : Number(e.target.value))} />;
  return <input aria-label={label} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)} />;
}
