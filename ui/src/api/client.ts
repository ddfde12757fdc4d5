/**
 * The typed API client: every path, parameter and body type comes from `schema.d.ts`, which is
 * generated from the server's OpenAPI document. Requests carry the in-memory access token; a 401
 * triggers one silent refresh (shared across tabs, see session.ts) and one retry.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import { session } from "./session";

export type Schemas = components["schemas"];
export type Message = Schemas["MessageView"];
export type Conversation = Schemas["Conversation"];
export type Channel = Schemas["ChannelView"];
export type User = Schemas["User"];
export type Workspace = Schemas["Workspace"];
export type Problem = Schemas["Problem"];

/** A problem+json answer (or a network failure, status 0) as an exception. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fieldErrors: Array<{ field: string; message: string }>;
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, fieldErrors: Problem["errors"] = [], retryAfter: number | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.fieldErrors = fieldErrors;
    this.retryAfter = retryAfter;
  }

  /** The message for one form field, if the server named it. */
  field(name: string): string | undefined {
    return this.fieldErrors.find((e) => e.field === name || e.field.endsWith(`.${name}`))?.message;
  }
}

function isProblem(v: unknown): v is Problem {
  return typeof v === "object" && v !== null && "code" in v && "status" in v;
}

async function authedFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const send = (req: Request) => {
    const token = session.accessToken();
    if (token) req.headers.set("Authorization", `Bearer ${token}`);
    return fetch(req);
  };
  let res: Response;
  try {
    res = await send(input);
  } catch {
    throw new ApiError(0, "network", "Can't reach CoLink. Check your connection.");
  }
  if (res.status === 401 && session.accessToken() !== null) {
    if (await session.refresh()) {
      try {
        res = await send(retry);
      } catch {
        throw new ApiError(0, "network", "Can't reach CoLink. Check your connection.");
      }
    }
  }
  return res;
}

export const api = createClient<paths>({ baseUrl: `${location.origin}/api/v1`, fetch: authedFetch });

/** A client without the access token (setup, login, cookie refresh). */
export const publicApi = createClient<paths>({ baseUrl: `${location.origin}/api/v1` });

/** The data of a successful call, or an `ApiError`. */
export async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r: { data?: T; error?: unknown; response: Response };
  try {
    r = await p;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(0, "network", "Can't reach CoLink. Check your connection.");
  }
  if (r.response.ok) return r.data as T;
  const retryAfter = Number(r.response.headers.get("retry-after")) || null;
  if (isProblem(r.error)) {
    throw new ApiError(r.response.status, r.error.code, r.error.detail || r.error.title, r.error.errors ?? [], retryAfter);
  }
  throw new ApiError(r.response.status, "http_error", `The server answered ${r.response.status}.`, [], retryAfter);
}
