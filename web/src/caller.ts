// Who the signed-in caller is (GET /v1/caller): their key's or token's
// display name, organisation and role. Asked once per set of credentials
// and kept for as long as they are the ones in use, so the header, the
// landing screen and the group screens all read the same answer.
import { authorization, call } from './api';

export type Role = 'ROLE_ADMIN' | 'ROLE_LINK_WORKER' | 'ROLE_GROUP_EDITOR' | 'ROLE_AREA_ANALYST' | 'ROLE_NETWORK_ADMIN';

export interface Caller {
  principal: string;
  display_name: string;
  api_key: string;
  organisation: string;
  organisation_display_name: string;
  organisation_kind: string;
  role: Role;
}

let kept: { auth: string; caller: Promise<Caller | undefined> } | undefined;
let known: Caller | undefined;

/** The caller, or undefined when signed out or the API could not say (then nothing is kept). */
export function whoAmI(): Promise<Caller | undefined> {
  const auth = authorization();
  if (!auth) {
    kept = known = undefined;
    return Promise.resolve(undefined);
  }
  if (kept?.auth !== auth) {
    known = undefined;
    const mine = { auth, caller: call<Caller>('GET', '/v1/caller').then((c) => (known = c)).catch(() => { if (kept === mine) kept = undefined; return undefined; }) };
    kept = mine;
  }
  return kept.caller;
}

/** The caller as last answered for the credentials now in use (no call). */
export const caller = (): Caller | undefined => (kept?.auth === authorization() ? known : undefined);

/**
 * The screens each role uses, for the header and the landing screen. The
 * API still decides every call: a screen left out here is only not offered.
 * Signed out: the open screens (search and coverage are open data).
 */
export type Screen = 'search' | 'myReferrals' | 'listings' | 'inbox' | 'coverage' | 'network' | 'admin';
const byRole: Record<Role, Screen[]> = {
  ROLE_LINK_WORKER: ['search', 'myReferrals'],
  ROLE_GROUP_EDITOR: ['listings', 'inbox'],
  ROLE_AREA_ANALYST: ['coverage', 'network'],
  ROLE_ADMIN: ['search', 'myReferrals', 'listings', 'inbox', 'coverage', 'network', 'admin'],
  ROLE_NETWORK_ADMIN: ['search', 'coverage', 'admin'],
};
const everything: Screen[] = ['search', 'myReferrals', 'listings', 'inbox', 'coverage', 'network', 'admin'];

/** The screens to offer: by role; every one when signed in but the role is unknown (the API decides). */
export function screens(signedIn: boolean): Screen[] {
  if (!signedIn) return ['search', 'coverage'];
  const c = caller();
  return c ? byRole[c.role] ?? everything : everything;
}

/** Where a role starts: its first screen. */
export const home = (c: Caller | undefined) => ({ search: '#/', myReferrals: '#/my-referrals', listings: '#/group', inbox: '#/group/inbox', coverage: '#/coverage', network: '#/network', admin: '#/admin' })[(c && byRole[c.role]?.[0]) || 'search'];
