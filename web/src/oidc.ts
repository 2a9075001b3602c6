// OpenID Connect sign-in: authorization code with PKCE (S256), the
// console being a public client (no secret). sparcd says whether and with
// which provider (GET /app/config.json, endpoints it discovered). The
// verifier, state and nonce are made with WebCrypto and kept in
// sessionStorage for the round trip; the code comes back in the query of
// /app/ and is redeemed only when its state is this tab's own (no login
// forced on someone by a crafted link), and the ID token only kept when
// its nonce, issuer and audience are ours. The token is then sent as the
// bearer (sparcd verifies its signature, issuer, audience and expiry) and
// kept for this tab only; signing out forgets it.
import { addCredentials, type Credentials } from './api';
import type { Key } from './i18n';

export interface OidcConfig {
  issuer: string;
  client_id: string;
  scopes: string[];
  authorization_endpoint: string;
  token_endpoint: string;
}

const TOKEN = 'sparc.oidc.token';
const PENDING = 'sparc.oidc.pending';

interface Session { id_token: string; exp: number; name: string }
interface Pending { state: string; nonce: string; verifier: string; back: string }

function session(): Session | undefined {
  try {
    const s = JSON.parse(sessionStorage.getItem(TOKEN) ?? 'null') as Session | null;
    return s && s.exp * 1000 > Date.now() ? s : undefined;
  } catch {
    return undefined;
  }
}

export const oidcSession: Credentials & { name(): string } = {
  authorization: () => {
    const s = session();
    return s ? `Bearer ${s.id_token}` : undefined;
  },
  signOut: () => sessionStorage.removeItem(TOKEN),
  name: () => session()?.name ?? '',
};
addCredentials(oidcSession);

let configured: Promise<OidcConfig | null> | undefined;

/** The provider sparcd names, or null (keys only). Asked once per page. */
export function oidcConfig(): Promise<OidcConfig | null> {
  configured ??= fetch('/app/config.json', { credentials: 'omit' })
    .then((r) => (r.ok ? r.json() : { oidc: null }))
    .then((c: { oidc: OidcConfig | null }) => c.oidc)
    .catch(() => null);
  return configured;
}

const b64url = (b: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = (n: number) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectURI = () => location.origin + '/app/';

/** Sends the browser to the provider; back at /app/ with a code. */
export async function startSignIn(cfg: OidcConfig, back: string) {
  const p: Pending = { state: random(16), nonce: random(16), verifier: random(32), back };
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(p.verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify(p));
  const u = new URL(cfg.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: cfg.client_id, redirect_uri: redirectURI(), scope: cfg.scopes.join(' '),
    state: p.state, nonce: p.nonce, code_challenge: challenge, code_challenge_method: 'S256',
  })) u.searchParams.set(k, v);
  location.assign(u.toString());
}

/** Why a sign-in failed, as a message key; set by finishSignIn for the sign-in view. */
export let signInFailure: Key | undefined;

function claims(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
}

/**
 * Completes a sign-in when the page is the provider's redirect back
 * (?code=…&state=…, or ?error=…): checks the state, redeems the code with
 * the verifier, checks the ID token and keeps it. The query is removed
 * from the address first, so the code is never left in the history.
 */
export async function finishSignIn(): Promise<void> {
  const q = new URLSearchParams(location.search);
  if (!q.has('code') && !q.has('error')) return;
  history.replaceState(null, '', location.pathname);
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING); // one use
  let p: Pending | null = null;
  try {
    p = JSON.parse(raw ?? 'null');
  } catch {
    p = null;
  }
  signInFailure = await redeem(q, p);
  location.hash = signInFailure ? '#/signin' : p?.back || '#/';
}

async function redeem(q: URLSearchParams, p: Pending | null): Promise<Key | undefined> {
  if (!p || q.get('state') !== p.state) return 'auth.error.state';
  if (q.has('error')) return 'auth.error.denied';
  const cfg = await oidcConfig();
  if (!cfg) return 'auth.error.provider';
  let body: { id_token?: string };
  try {
    const res = await fetch(cfg.token_endpoint, {
      method: 'POST', credentials: 'omit',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: q.get('code') ?? '', redirect_uri: redirectURI(), client_id: cfg.client_id, code_verifier: p.verifier }),
    });
    if (!res.ok) return 'auth.error.token';
    body = await res.json();
  } catch {
    return 'auth.error.provider';
  }
  let c: Record<string, unknown>;
  try {
    c = claims(body.id_token ?? '');
  } catch {
    return 'auth.error.token';
  }
  const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (c.iss !== cfg.issuer || !aud.includes(cfg.client_id) || c.nonce !== p.nonce || typeof c.exp !== 'number' || c.exp * 1000 <= Date.now()) {
    return 'auth.error.token';
  }
  const s: Session = { id_token: body.id_token!, exp: c.exp, name: typeof c.name === 'string' ? c.name : '' };
  sessionStorage.setItem(TOKEN, JSON.stringify(s));
  return undefined;
}
