// The group's referral inbox: the referrals its listings received, with
// only what the API lets the provider see (the person as far as their
// consent goes, the note, the reasons), and the moves the provider makes:
// accept (onto the waiting list when every place is taken), decline with
// a coded reason, attended (in progress, one more session counted),
// completed. Every move sends the etag read, so it applies to the version
// on screen; a referral changed meanwhile is read again and said so.
import { call, query, ApiError } from '../api';
import { h, fill } from '../dom';
import { apiMessage } from '../forms';
import { t, label, type Key } from '../i18n';
import { when, zoneName } from '../format';
import { vocabulary } from '../vocab';
import type { Term } from '../types';
import { idOf } from '../types';

interface Incoming {
  name: string;
  status: string;
  status_reason: string;
  reasons: string[];
  provider_note: string;
  priority: string;
  create_time: string;
  etag: string;
  person_details: { display_name: string; age_band: string; contact?: { phone: string; email: string; address: string }; what_matters: string } | null;
  outcome: { sessions_attended?: number } | null;
  summary: { asset_display_name: string; referring_organisation_display_name: string; next_session: { start_time: string; time_zone: string } | null } | null;
}

const statusKey: Record<string, Key> = {
  REFERRAL_STATUS_REQUESTED: 'group.rs.requested', REFERRAL_STATUS_ACCEPTED: 'group.rs.accepted', REFERRAL_STATUS_WAITLISTED: 'group.rs.waitlisted',
  REFERRAL_STATUS_IN_PROGRESS: 'group.rs.inProgress', REFERRAL_STATUS_ON_HOLD: 'group.rs.onHold', REFERRAL_STATUS_COMPLETED: 'group.rs.completed',
  REFERRAL_STATUS_REJECTED: 'group.rs.rejected', REFERRAL_STATUS_CANCELLED: 'group.rs.cancelled', REFERRAL_STATUS_FAILED: 'group.rs.failed',
  REFERRAL_STATUS_ENTERED_IN_ERROR: 'group.rs.error',
};
/** The API's coded reasons for declining (docs/referrals.md, "Status reasons"). */
const declineReasons: [string, Key][] = [
  ['no_capacity', 'group.decline.noCapacity'], ['not_eligible', 'group.decline.notEligible'], ['not_suitable', 'group.decline.notSuitable'],
  ['unable_to_contact', 'group.decline.unableToContact'], ['other', 'group.decline.other'],
];
const open = ['REFERRAL_STATUS_REQUESTED', 'REFERRAL_STATUS_WAITLISTED', 'REFERRAL_STATUS_ACCEPTED', 'REFERRAL_STATUS_IN_PROGRESS', 'REFERRAL_STATUS_ON_HOLD'];

/** Referrals a page: a page of cards a person can take in; "Show more" reads the next. */
const PAGE = 25;

export async function groupInboxView(main: HTMLElement) {
  const terms = await vocabulary().catch(() => new Map<string, Term>());
  const status = h('p', { role: 'status', 'aria-live': 'polite', id: 'inbox-status' });
  const list = h('ul', { class: 'inbox', id: 'inbox' });
  const closed = h('input', { type: 'checkbox', id: 'inbox-closed' });
  const more = h('button', { type: 'button', id: 'inbox-more', hidden: true }, t('group.inbox.more'));
  fill(main, h('h1', {}, t('group.inbox.title')),
    h('p', { class: 'hint' }, t('group.inbox.privacy')),
    h('div', { class: 'check' }, closed, h('label', { for: 'inbox-closed' }, t('group.inbox.showClosed'))),
    status, list, more);
  // Pages follow the API's page token (newest change first); a referral
  // moved meanwhile can come round again, so each is shown once.
  let token = '', seq = 0;
  const shown = new Set<string>();
  const load = async (first: boolean) => {
    const mine = ++seq;
    if (first) { token = ''; shown.clear(); fill(list); }
    status.textContent = t('common.loading');
    more.disabled = true;
    try {
      const r = await call<{ referrals?: Incoming[]; next_page_token?: string }>('GET', '/v1/referrals' + query({
        side: 'providing', page_size: PAGE, page_token: token || undefined, statuses: closed.checked ? undefined : open }));
      if (mine !== seq) return;
      const fresh = (r.referrals ?? []).filter((x) => !shown.has(x.name));
      fresh.forEach((x) => shown.add(x.name));
      const cards = fresh.map((x) => card(x, terms, status));
      list.append(...cards);
      token = r.next_page_token ?? '';
      more.hidden = !token;
      status.textContent = !shown.size ? t('group.inbox.none') : token ? t('group.inbox.countMore', { count: shown.size }) : t('group.inbox.count', { count: shown.size });
      // "Show more" by keyboard carries on at the first new card.
      if (!first) cards[0]?.querySelector<HTMLElement>('h2')?.focus();
    } catch (err) {
      status.textContent = err instanceof ApiError ? apiMessage(err) : t('error.generic');
    } finally {
      more.disabled = false;
    }
  };
  closed.addEventListener('change', () => void load(true));
  more.addEventListener('click', () => void load(false));
  await load(true);
}

function card(r: Incoming, terms: Map<string, Term>, status: HTMLElement): HTMLElement {
  const li = h('li', { class: 'card referral-card', id: 'ref-' + idOf(r.name) });
  const render = (x: Incoming) => {
    const p = x.person_details;
    const headId = 'ref-h-' + idOf(x.name);
    const next = x.summary?.next_session;
    const facts: [string, string][] = [
      [t('group.inbox.activity'), x.summary?.asset_display_name ?? ''],
      [t('group.inbox.from'), x.summary?.referring_organisation_display_name ?? ''],
      [t('group.inbox.received'), when(x.create_time)],
      [t('group.inbox.ageBand'), p?.age_band ?? ''],
      [t('group.inbox.phone'), p?.contact?.phone ?? ''],
      [t('group.inbox.email'), p?.contact?.email ?? ''],
      [t('group.inbox.whatMatters'), p?.what_matters ?? ''],
      [t('group.inbox.reasons'), x.reasons.map((c) => label(terms.get(c), c)).join(', ')],
      [t('group.inbox.note'), x.provider_note],
      [t('group.inbox.next'), next ? `${when(next.start_time, next.time_zone)} (${zoneName(next.time_zone)})` : ''],
      [t('group.inbox.attended'), x.outcome?.sessions_attended ? String(x.outcome.sessions_attended) : ''],
    ];
    const actions = h('div', { class: 'row actions' });
    const act = (id: string, key: Key, primary: boolean, run: () => Promise<Incoming>, done: Key) => {
      const b = h('button', { type: 'button', id: `${id}-${idOf(x.name)}`, class: primary ? 'primary' : undefined, 'aria-describedby': headId }, t(key));
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          const now = await run();
          render(now);
          status.textContent = t(now.status === 'REFERRAL_STATUS_WAITLISTED' ? 'group.inbox.waitlistedNow' : done, { name: p?.display_name ?? '' });
          li.querySelector<HTMLElement>('h2')?.focus();
        } catch (err) {
          await fail(err);
        }
      });
      actions.append(b);
    };
    // A referral changed meanwhile (stale etag) or a move no longer allowed: read it again.
    const fail = async (err: unknown) => {
      status.textContent = err instanceof ApiError && (err.status === 409 || err.reason === 'ETAG_MISMATCH') ? t('group.inbox.stale') : err instanceof ApiError ? apiMessage(err) : t('error.generic');
      render(await call<Incoming>('GET', '/v1/' + x.name).catch(() => x));
    };
    const move = (to: string, extra: Record<string, string> = {}) => call<Incoming>('POST', `/v1/${x.name}:transition`, { to_status: to, etag: x.etag, ...extra });
    const attended = async () => {
      // The first attendance starts the referral (in progress); each counts one more session.
      const started = x.status === 'REFERRAL_STATUS_ACCEPTED' ? await move('REFERRAL_STATUS_IN_PROGRESS') : x;
      return call<Incoming>('POST', `/v1/${x.name}:recordOutcome`, { sessions_attended: (started.outcome?.sessions_attended ?? 0) + 1, etag: started.etag });
    };
    switch (x.status) {
      case 'REFERRAL_STATUS_REQUESTED':
        act('accept', 'group.inbox.accept', true, () => move('REFERRAL_STATUS_ACCEPTED'), 'group.inbox.accepted');
        break;
      case 'REFERRAL_STATUS_ACCEPTED':
      case 'REFERRAL_STATUS_IN_PROGRESS':
        act('attended', 'group.inbox.markAttended', true, attended, 'group.inbox.attendedDone');
        act('complete', 'group.inbox.complete', false, () => move('REFERRAL_STATUS_COMPLETED'), 'group.inbox.completed');
        break;
      case 'REFERRAL_STATUS_ON_HOLD':
        act('complete', 'group.inbox.complete', false, () => move('REFERRAL_STATUS_COMPLETED'), 'group.inbox.completed');
        break;
    }
    let decline: HTMLElement | null = null;
    if (x.status === 'REFERRAL_STATUS_REQUESTED' || x.status === 'REFERRAL_STATUS_WAITLISTED') {
      const reasonId = 'decline-reason-' + idOf(x.name);
      const select = h('select', { id: reasonId }, declineReasons.map(([code, key]) => h('option', { value: code }, t(key))));
      const note = h('textarea', { id: 'decline-note-' + idOf(x.name), rows: 2, maxlength: 2000 });
      const confirm = h('button', { type: 'submit', id: 'decline-confirm-' + idOf(x.name) }, t('group.decline.confirm'));
      decline = h('details', { class: 'decline' }, h('summary', { id: 'decline-' + idOf(x.name) }, t('group.decline.open')),
        h('form', { novalidate: true },
          h('div', { class: 'field' }, h('label', { for: reasonId }, t('group.decline.reason')), select),
          h('div', { class: 'field' }, h('label', { for: note.id }, t('group.decline.note')), note),
          confirm));
      decline.querySelector('form')!.addEventListener('submit', async (e) => {
        e.preventDefault();
        confirm.disabled = true;
        try {
          render(await move('REFERRAL_STATUS_REJECTED', { reason: select.value, note: note.value.trim() }));
          status.textContent = t('group.inbox.declined', { name: p?.display_name ?? '' });
          li.querySelector<HTMLElement>('h2')?.focus();
        } catch (err) {
          confirm.disabled = false;
          await fail(err);
        }
      });
    }
    fill(li,
      h('h2', { id: headId, tabindex: '-1' }, p?.display_name || t('group.inbox.noName')),
      h('p', { class: 'ref-status' }, h('strong', { class: 'badge ' + x.status.toLowerCase() }, t(statusKey[x.status] ?? 'group.rs.other')),
        x.priority === 'REFERRAL_PRIORITY_URGENT' ? [' ', h('strong', { class: 'badge urgent' }, t('group.inbox.urgent'))] : null),
      x.status === 'REFERRAL_STATUS_WAITLISTED' ? h('p', { class: 'hint' }, t('group.inbox.waitlistedHint')) : null,
      h('dl', { class: 'facts' }, facts.filter(([, v]) => v).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      actions, decline);
  };
  render(r);
  return li;
}
