// The community group's listings: the organisation's assets, each with
// when it was last confirmed ("still true") and a way to edit it.
//
// Whose listings: the caller's organisation, as GET /v1/caller says.
// "Still true" is UpdateAsset with update_mask=last_verified_time and the
// etag read, the field the API has for "when the owner last confirmed the
// listing is true".
import { call, query, ApiError } from '../api';
import { h, fill } from '../dom';
import { apiMessage } from '../forms';
import { t, locale } from '../i18n';
import { whoAmI } from '../caller';
import type { Asset, Session } from '../types';
import { idOf } from '../types';

/** An asset as its owner reads it: the fields the link worker's view does not need. */
export interface Listing extends Asset {
  kind: string;
  status: string;
  etag: string;
  owner_organisation: string;
  last_verified_time?: string;
  update_time?: string;
  sessions: (Session & { valid_from?: string; valid_until?: string })[];
  delivery_mode?: string;
  service_area?: { area_codes?: string[]; country?: string } | null;
  service_area_geojson?: string;
}


/** Dates in the user's locale. */
const day = (iso: string) => new Intl.DateTimeFormat(locale(), { dateStyle: 'long' }).format(new Date(iso));

/** Confirms a listing is still true: the verification time, only if the listing is as read. */
export const confirmStillTrue = (a: Listing) =>
  call<Listing>('PATCH', `/v1/${a.name}?update_mask=last_verified_time`, { name: a.name, etag: a.etag, last_verified_time: new Date().toISOString() });

export const verifiedText = (a: Listing) => a.last_verified_time ? t('group.verified', { date: day(a.last_verified_time) }) : t('group.neverVerified');

export async function groupListingsView(main: HTMLElement) {
  fill(main, h('h1', {}, t('group.listings.title')), h('p', { role: 'status' }, t('common.loading')));
  const me = await whoAmI();
  if (!me) {
    fill(main, h('h1', {}, t('group.listings.title')), h('p', { role: 'alert' }, t('group.org.unknown')));
    return;
  }
  const org = me.organisation;

  const status = h('p', { role: 'status', 'aria-live': 'polite', id: 'group-status' });
  const list = h('ul', { class: 'results group-list', id: 'listings' });
  fill(main, h('h1', {}, t('group.listings.title')),
    h('p', { class: 'meta', id: 'group-org' }, t('group.org.of', { org: me.organisation_display_name })),
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

export const statusText = (s: string) =>
  ({ ASSET_STATUS_PAUSED: t('group.status.paused'), ASSET_STATUS_CLOSED: t('group.status.closed') })[s] ?? t('group.status.active');
