// The community group's listings: the organisation's assets, each with
// when it was last confirmed ("still true") and a way to edit it.
//
// The API has no "who am I" call, so the console finds the caller's
// organisation from what the key can read: the provider side of a
// received referral, else an asset the key created (remembered for the
// tab), else the person says which organisation is theirs (the API still
// refuses any write to another organisation's listing).
// "Still true" is UpdateAsset with update_mask=last_verified_time and the
// etag read, the field the API has for "when the owner last confirmed the
// listing is true".
import { call, query, ApiError } from '../api';
import { h, fill } from '../dom';
import { apiMessage } from '../forms';
import { t, locale } from '../i18n';
import type { Asset, Session } from '../types';
import { idOf } from '../types';

const ORG = 'sparc.group.org';

/** An asset as its owner reads it: the fields the link worker's view does not need. */
export interface Listing extends Asset {
  kind: string;
  status: string;
  etag: string;
  owner_organisation: string;
  last_verified_time?: string;
  update_time?: string;
  sessions: (Session & { valid_from?: string; valid_until?: string })[];
}

/** The two links of the group's part, for the header when signed in. */
export const groupNav = () => [h('a', { href: '#/group' }, t('group.nav.listings')), h('a', { href: '#/group/inbox' }, t('group.nav.inbox'))];

/** Remembers the organisation for this tab (learnt from a write the API accepted). */
export const rememberOrg = (org: string | undefined) => { if (org) sessionStorage.setItem(ORG, org); };

/** The caller's organisation, or undefined when nothing the key reads says it. */
async function myOrganisation(): Promise<string | undefined> {
  const kept = sessionStorage.getItem(ORG);
  if (kept) return kept;
  const r = await call<{ referrals?: { provider_organisation: string }[] }>('GET', '/v1/referrals' + query({ side: 'providing', page_size: 1 }));
  const org = r.referrals?.[0]?.provider_organisation;
  rememberOrg(org);
  return org;
}

/** Dates in the user's locale. */
const day = (iso: string) => new Intl.DateTimeFormat(locale(), { dateStyle: 'long' }).format(new Date(iso));

/** Confirms a listing is still true: the verification time, only if the listing is as read. */
export const confirmStillTrue = (a: Listing) =>
  call<Listing>('PATCH', `/v1/${a.name}?update_mask=last_verified_time`, { name: a.name, etag: a.etag, last_verified_time: new Date().toISOString() });

export const verifiedText = (a: Listing) => a.last_verified_time ? t('group.verified', { date: day(a.last_verified_time) }) : t('group.neverVerified');

export async function groupListingsView(main: HTMLElement) {
  fill(main, h('h1', {}, t('group.listings.title')), h('p', { role: 'status' }, t('common.loading')));
  let org: string | undefined;
  try {
    org = await myOrganisation();
  } catch (err) {
    fill(main, h('h1', {}, t('group.listings.title')), h('p', { role: 'alert' }, err instanceof ApiError ? apiMessage(err) : t('error.generic')));
    return;
  }
  if (!org) return pickOrganisation(main);

  const status = h('p', { role: 'status', 'aria-live': 'polite', id: 'group-status' });
  const list = h('ul', { class: 'results group-list', id: 'listings' });
  fill(main, h('h1', {}, t('group.listings.title')),
    h('p', {}, h('a', { class: 'button primary', href: '#/group/new', id: 'new-listing' }, t('group.listings.new'))),
    status, list);
  // Every page (the API lists oldest change first), shown most recently
  // changed first: what the person just added or edited is on top. A group
  // has a handful of listings; the cap keeps a large directory bounded.
  const all: Listing[] = [];
  try {
    let token = '';
    for (let i = 0; i < 20; i++) {
      const r = await call<{ assets?: Listing[]; next_page_token?: string }>('GET', '/v1/assets' + query({ owner_organisation: org, page_size: 100, page_token: token }));
      all.push(...(r.assets ?? []));
      token = r.next_page_token ?? '';
      if (!token) break;
    }
  } catch (err) {
    status.textContent = err instanceof ApiError ? apiMessage(err) : t('error.generic');
    return;
  }
  all.sort((a, b) => (b.update_time ?? '').localeCompare(a.update_time ?? ''));
  fill(list, all.map((a) => item(a, status)));
  status.textContent = all.length ? t('group.listings.count', { count: all.length }) : t('group.listings.none');
}

function item(a: Listing, status: HTMLElement): HTMLElement {
  const id = idOf(a.name);
  const verified = h('span', { id: 'verified-' + id }, verifiedText(a));
  let current = a;
  const still = h('button', { type: 'button', id: 'still-' + id, 'aria-describedby': 'name-' + id + ' verified-' + id }, t('group.stillTrue'));
  still.addEventListener('click', async () => {
    still.disabled = true;
    try {
      current = await confirmStillTrue(current);
      verified.textContent = verifiedText(current);
      status.textContent = t('group.stillTrueDone', { name: current.display_name });
    } catch (err) {
      // A stale etag here means the listing changed since the page was read: read it again.
      status.textContent = err instanceof ApiError && err.status === 409 ? t('group.stillTrueStale') : err instanceof ApiError ? apiMessage(err) : t('error.generic');
      if (err instanceof ApiError && err.status === 409) current = await call<Listing>('GET', '/v1/' + a.name).catch(() => current);
    } finally {
      still.disabled = false;
    }
  });
  return h('li', {},
    h('a', { href: '#/group/asset/' + id, id: 'name-' + id }, a.display_name),
    h('p', { class: 'meta' }, statusText(a.status), ' · ', verified),
    h('p', {}, still));
}

const statusText = (s: string) =>
  ({ ASSET_STATUS_PAUSED: t('group.status.paused'), ASSET_STATUS_CLOSED: t('group.status.closed') })[s] ?? t('group.status.active');

/** No referral or listing says which organisation the key is for: the person chooses it. */
async function pickOrganisation(main: HTMLElement) {
  const r = await call<{ organisations?: { name: string; display_name: string }[] }>('GET', '/v1/organisations' + query({ page_size: 100, kinds: ['ORGANISATION_KIND_COMMUNITY_GROUP', 'ORGANISATION_KIND_VOLUNTARY_ORGANISATION', 'ORGANISATION_KIND_OTHER'] }))
    .catch(() => ({ organisations: [] as { name: string; display_name: string }[] }));
  const select = h('select', { id: 'group-org' }, (r.organisations ?? []).map((o) => h('option', { value: o.name }, o.display_name)));
  const form = h('form', { class: 'card narrow' },
    h('div', { class: 'field' }, h('label', { for: 'group-org' }, t('group.org.label')), h('p', { class: 'hint', id: 'group-org-hint' }, t('group.org.hint')), select),
    h('button', { type: 'submit', class: 'primary' }, t('group.org.choose')));
  select.setAttribute('aria-describedby', 'group-org-hint');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    rememberOrg(select.value);
    void groupListingsView(main);
  });
  fill(main, h('h1', {}, t('group.listings.title')), h('p', {}, t('group.org.why')), form,
    h('p', {}, h('a', { class: 'button', href: '#/group/new' }, t('group.listings.new'))));
}
