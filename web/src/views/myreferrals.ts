// "My referrals": the referrals the link worker's organisation made, kept
// up to date from WatchReferrals. Over HTTP the gateway streams it as
// newline-delimited JSON ({"result": change} per line, {"error": status}
// last when it fails). A changed referral is read again (GetReferral: the
// change carries no personal data) and its row replaced, or added when it
// is new. When the stream ends or drops, it reconnects with the cursor of
// the last change seen, so no change is lost or shown twice; before any
// change is seen it resumes from "now" and reads the list again.
import { call, ApiError, authorization } from '../api';
import { h, fill } from '../dom';
import { apiMessage } from '../forms';
import { t, locale, type Key } from '../i18n';
import { idOf, type Referral } from '../types';

interface Change { cursor: string; referral: string; type: string; to_status: string }
type Mine = Referral & { referring_organisation: string };

const statuses: Record<string, Key> = {
  REFERRAL_STATUS_DRAFT: 'myref.status.draft', REFERRAL_STATUS_REQUESTED: 'myref.status.requested',
  REFERRAL_STATUS_ACCEPTED: 'myref.status.accepted', REFERRAL_STATUS_REJECTED: 'myref.status.rejected',
  REFERRAL_STATUS_CANCELLED: 'myref.status.cancelled', REFERRAL_STATUS_IN_PROGRESS: 'myref.status.inProgress',
  REFERRAL_STATUS_ON_HOLD: 'myref.status.onHold', REFERRAL_STATUS_COMPLETED: 'myref.status.completed',
  REFERRAL_STATUS_FAILED: 'myref.status.failed', REFERRAL_STATUS_ENTERED_IN_ERROR: 'myref.status.enteredInError',
  REFERRAL_STATUS_WAITLISTED: 'myref.status.waitlisted',
};

/** A referral status in the user's language. */
export const statusText = (s: string) => (statuses[s] ? t(statuses[s]) : s);

export function myReferralsView(main: HTMLElement) {
  const list = h('ul', { class: 'myref', id: 'myref-list' });
  const live = h('p', { class: 'status', role: 'status', id: 'myref-live' });
  const alert = h('p', { role: 'alert', class: 'form-error', hidden: true });
  const empty = h('p', { id: 'myref-empty', hidden: true }, t('myref.none'));
  fill(main, h('h1', {}, t('myref.title')), live, alert, empty, list);
  const rows = new Map<string, HTMLElement>();
  const abort = new AbortController();
  let cursor = '';
  let ours = ''; // the caller's organisation, once a listed referral names it

  const row = (r: Referral) => {
    const id = idOf(r.name);
    const li = h('li', { 'data-referral': id, 'data-status': r.status },
      h('a', { href: '#/referral/' + id }, r.summary?.asset_display_name || id),
      ' ', h('span', { class: 'who' }, r.person_details?.display_name ?? ''),
      ' ', h('span', { class: 'badge' }, statusText(r.status)),
      ' ', h('span', { class: 'hint' }, new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(r.create_time))),
      ' ', h('a', { href: '#/outcome/' + id, class: 'outcome-link' }, t('myref.outcome')));
    const old = rows.get(id);
    if (old) old.replaceWith(li);
    else list.prepend(li);
    rows.set(id, li);
    empty.hidden = true;
  };

  const relist = async () => {
    const res = await call<{ referrals?: Mine[] }>('GET', '/v1/referrals?side=referring&page_size=50');
    for (const r of (res.referrals ?? []).slice().reverse()) row(r); // newest ends on top
    ours ||= res.referrals?.[0]?.referring_organisation ?? '';
    empty.hidden = rows.size > 0;
  };

  const apply = async (c: Change) => {
    cursor = c.cursor;
    try {
      const r = await call<Mine>('GET', '/v1/' + c.referral);
      // The watch covers both sides: one received, not listed, stays out.
      if (rows.has(idOf(r.name)) || !ours || r.referring_organisation === ours) row(r);
    } catch {
      // gone from view (e.g. entered in error and hidden): leave the row
    }
  };

  const watch = async () => {
    let delay = 1000;
    while (!abort.signal.aborted) {
      const resumed = cursor !== '';
      try {
        const headers: Record<string, string> = { Accept: 'application/json' };
        const auth = authorization();
        if (auth) headers.Authorization = auth;
        const pending = fetch('/v1/referrals:watch?cursor=' + encodeURIComponent(cursor || 'now'), { headers, signal: abort.signal, credentials: 'omit' });
        if (!resumed) await relist(); // after the watch is asked for, so a change in between is in one or the other
        live.textContent = t('myref.live');
        const res = await pending;
        if (!res.ok || !res.body) throw new ApiError(res.status, '', res.statusText, []);
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        // The first change of a stream from "now" proves the server's
        // starting point is behind us: read the list again, for what
        // changed between the first read and that point.
        let fresh = !resumed;
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            const msg = JSON.parse(line) as { result?: Change; error?: unknown };
            if (msg.result) await apply(msg.result);
            if (msg.result && fresh) {
              fresh = false;
              await relist();
            }
          }
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          alert.textContent = apiMessage(err);
          alert.hidden = false;
          live.textContent = '';
          return;
        }
      }
      if (abort.signal.aborted) return;
      live.textContent = t('myref.reconnecting');
      list.dataset.reconnects = String(Number(list.dataset.reconnects ?? 0) + 1);
      await new Promise((ok) => setTimeout(ok, delay)); // backoff, not synchronisation
      delay = Math.min(delay * 2, 30000);
    }
  };
  void watch();
  return () => abort.abort();
}
