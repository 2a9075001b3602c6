// The console's one way to call SPARC's HTTP/JSON API. Credentials are a
// seam: today a pasted API key kept in sessionStorage (this tab only, gone
// when it closes); an OpenID Connect session will be a second
// implementation of Credentials, and nothing else changes.

export interface Credentials {
  /** The Authorization header value, or undefined when signed out. */
  authorization(): string | undefined;
  signOut(): void;
}

const KEY = 'sparc.apiKey';

export const apiKey: Credentials & { signIn(key: string): void; signedIn(): boolean } = {
  authorization: () => {
    const k = sessionStorage.getItem(KEY);
    return k ? `Bearer ${k}` : undefined;
  },
  signIn: (key: string) => sessionStorage.setItem(KEY, key.trim()),
  signOut: () => sessionStorage.removeItem(KEY),
  signedIn: () => sessionStorage.getItem(KEY) !== null,
};

// Every way of signing in the console knows; the first signed in is used.
const sources: Credentials[] = [apiKey];
export const addCredentials = (c: Credentials) => void sources.push(c);
const credentials: Credentials = {
  authorization: () => sources.map((c) => c.authorization()).find((a) => a !== undefined),
  signOut: () => sources.forEach((c) => c.signOut()),
};
/** The Authorization header value now, for calls not made through call() (streams). */
export const authorization = () => credentials.authorization();
export const signedIn = () => credentials.authorization() !== undefined;
export const signOut = () => credentials.signOut();

export interface Violation {
  field: string;
  description: string;
}

/** An API error: the HTTP status, the ErrorInfo reason and field violations. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly violations: Violation[],
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

export function query(q: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === '' || v === false) continue;
    for (const one of Array.isArray(v) ? v : [v]) p.append(k, String(one));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

/** Calls the API; JSON in, JSON out; any non-2xx is an ApiError. */
export async function call<T>(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<T> {
  const headers: Record<string, string> = { Accept: accept };
  const auth = credentials.authorization();
  if (auth) headers.Authorization = auth;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'network error', []);
  }
  if (!res.ok) throw await toError(res);
  if (accept !== 'application/json') return (await res.text()) as T;
  return (await res.json()) as T;
}

/**
 * A file the API serves (an export, a report) as a Blob, fetched with the
 * caller's credentials: a plain link cannot carry them. Binary files (a
 * PDF) stay as they are, which call()'s text would not.
 */
export async function fetchFile(path: string): Promise<Blob> {
  const headers: Record<string, string> = {};
  const auth = credentials.authorization();
  if (auth) headers.Authorization = auth;
  let res: Response;
  try {
    res = await fetch(path, { headers, credentials: 'omit' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'network error', []);
  }
  if (!res.ok) throw await toError(res);
  return res.blob();
}

async function toError(res: Response): Promise<ApiError> {
  let reason = '', message = res.statusText;
  const violations: Violation[] = [];
  try {
    const st = await res.json();
    message = st.message ?? message;
    for (const d of st.details ?? []) {
      if (d['@type']?.endsWith('google.rpc.ErrorInfo')) reason = d.reason ?? '';
      if (d['@type']?.endsWith('google.rpc.BadRequest')) violations.push(...(d.field_violations ?? []));
    }
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(res.status, reason, message, violations);
}
