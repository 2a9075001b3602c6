// A referral just made: what was sent, when the asset next meets (in its
// own time zone), and the page to print for the person. The print page
// needs the caller's key, which a link cannot carry, so it is fetched with
// the key and opened from a blob: URL; the page inherits the console's
// CSP, under which its inline <style> would not apply, so the style moves
// to a stylesheet of its own (a blob: URL too: style-src 'self' blob:).
import { call, ApiError } from '../api';
import { h, fill } from '../dom';
import { apiMessage } from '../forms';
import { loadOr } from './load';
import { t, lang } from '../i18n';
import { when, zoneName } from '../format';
import type { Referral } from '../types';

export async function referralView(main: HTMLElement, id: string) {
  const r = await loadOr<Referral>(main, t('referral.title'), '/v1/referrals/' + id);
  if (!r) return;
  const s = r.summary;
  const next = s?.next_session;
  const printError = h('p', { role: 'alert', class: 'form-error', hidden: true });
  fill(main,
    h('h1', {}, t('referral.title')),
    h('p', { class: 'lead', id: 'referral-done' }, t('referral.sent', { person: r.person_details?.display_name ?? '', asset: s?.asset_display_name ?? '' })),
    h('dl', { class: 'facts' },
      h('dt', {}, t('referral.status')), h('dd', {}, t(r.status === 'REFERRAL_STATUS_DRAFT' ? 'referral.draft' : 'referral.sentStatus')),
      h('dt', {}, t('asset.where')), h('dd', {}, [s?.address, s?.postcode, s?.locality].filter(Boolean).join(', ')),
      h('dt', {}, t('referral.next')), h('dd', {}, next ? `${when(next.start_time, next.time_zone)} (${zoneName(next.time_zone)})` : t('asset.noSessions'))),
    h('p', {}, h('button', { type: 'button', class: 'primary', id: 'print', onclick: () => void openPrint(id, printError) }, t('referral.print'))),
    printError,
    h('p', {}, h('a', { href: '#/' }, t('referral.another'))));
}

async function openPrint(id: string, errorEl: HTMLElement) {
  const win = window.open('', '_blank'); // opened on the click, so no pop-up blocker stops it
  try {
    const html = await call<string>('GET', `/v1/referrals/${id}/print?language=${lang()}`, undefined, 'text/html');
    // A string edit, not DOMParser: a parsed document's <style> counts as
    // inline style under this page's CSP. The page is our own template.
    const styled = html.replace(/<style>([\s\S]*?)<\/style>/g, (_, css: string) =>
      `<link rel="stylesheet" href="${URL.createObjectURL(new Blob([css], { type: 'text/css' }))}">`);
    const url = URL.createObjectURL(new Blob([styled], { type: 'text/html' }));
    if (win) win.location.href = url;
    else window.location.href = url;
  } catch (err) {
    win?.close();
    errorEl.textContent = err instanceof ApiError ? apiMessage(err) : t('error.generic');
    errorEl.hidden = false;
    errorEl.focus();
  }
}
