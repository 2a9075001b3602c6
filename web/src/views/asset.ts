// One asset: what, where, when (each session in the asset's own time zone,
// which is named), cost, accessibility, places left, contact; and, for a
// signed-in link worker, the way to refer someone to it.
import { signedIn } from '../api';
import { h, fill } from '../dom';
import { loadOr } from './load';
import { t, label, locale } from '../i18n';
import { session, zoneName } from '../format';
import { coverText, deliveryText, isRemote } from '../remote';
import { vocabulary } from '../vocab';
import type { Asset } from '../types';

export const costText = (a: Asset) =>
  ({ COST_KIND_FREE: t('cost.free'), COST_KIND_LOW_COST: t('cost.low'), COST_KIND_PAID: t('cost.paid') })[a.cost?.kind ?? ''] ?? t('cost.unknown');

/** The ages an activity is for, or null when open to all. */
function ages(a: Asset): string | null {
  const min = a.age_range?.min_age, max = a.age_range?.max_age;
  if (min && max) return t('asset.agesBetween', { min, max });
  if (min) return t('asset.agesFrom', { min });
  if (max) return t('asset.agesTo', { max });
  return null;
}

export async function assetView(main: HTMLElement, id: string) {
  fill(main, h('p', { role: 'status' }, t('common.loading')));
  const a = await loadOr<Asset>(main, t('asset.title'), '/v1/assets/' + id);
  if (!a) return;
  const terms = await vocabulary().catch(() => new Map());
  const zones = [...new Set(a.sessions.map((s) => s.timezone))];
  const dl = (...pairs: [string, Node | string | null][]) =>
    h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== null && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const c = a.contact;
  const address = [a.location.address, a.location.postcode, a.location.locality].filter(Boolean).join(', ');
  const remote = isRemote(a);
  const covers = remote ? await coverText(a, t('asset.coversDrawn')) : '';
  const langNames = new Intl.DisplayNames([locale()], { type: 'language' });
  const places = a.places_left !== undefined && a.places_left !== null ? t('asset.placesLeft', { count: a.places_left }) : t('asset.placesUnknown');
  fill(main,
    h('p', {}, h('a', { href: '#/' }, t('asset.back'))),
    h('h1', {}, a.display_name),
    a.description ? h('p', { class: 'lead' }, a.description) : null,
    h('section', { 'aria-labelledby': 'when-h' }, h('h2', { id: 'when-h' }, t('asset.when')),
      a.sessions.length
        ? h('ul', { id: 'sessions' }, a.sessions.map((s) => h('li', {}, session(s))))
        : h('p', {}, t('asset.noSessions')),
      zones.length ? h('p', { class: 'hint' }, t('asset.timeZone', { zone: zones.map(zoneName).join(', ') })) : null),
    h('section', { 'aria-labelledby': 'facts-h' }, h('h2', { id: 'facts-h' }, t('asset.details')),
      dl(
        [t('asset.where'), address],
        [t('asset.how'), remote ? deliveryText(a) : null],
        [t('asset.covers'), covers],
        [t('asset.categories'), a.categories.map((x) => label(terms.get(x), x)).join(', ')],
        [t('asset.cost'), costText(a) + (a.cost?.note ? ` (${a.cost.note})` : '')],
        [t('asset.accessibility'), a.accessibility.length ? h('ul', {}, a.accessibility.map((x) => h('li', {}, label(terms.get(x), x)))) : t('asset.none')],
        [t('asset.languages'), (a.languages ?? []).map((l) => langNames.of(l) ?? l).join(', ')],
        [t('asset.ages'), ages(a)],
        [t('asset.places'), places],
        [t('asset.referrals'), a.accepting_referrals ? t('asset.accepting') : t('asset.notAccepting')],
      )),
    c && (c.name || c.phone || c.email || c.website)
      ? h('section', { 'aria-labelledby': 'contact-h' }, h('h2', { id: 'contact-h' }, t('asset.contact')),
        dl(
          [t('asset.contactName'), c.name],
          [t('asset.phone'), c.phone ? h('a', { href: 'tel:' + c.phone.replace(/\s/g, '') }, c.phone) : null],
          [t('asset.email'), c.email ? h('a', { href: 'mailto:' + c.email }, c.email) : null],
          [t('asset.website'), c.website && /^https?:\/\//.test(c.website) ? h('a', { href: c.website, rel: 'noopener noreferrer', target: '_blank' }, c.website) : null],
        ))
      : null,
    a.accepting_referrals
      ? h('p', {}, signedIn()
        ? h('a', { class: 'button primary', id: 'refer', href: '#/refer/' + id }, t('asset.refer'))
        : h('a', { href: '#/signin' }, t('asset.signInToRefer')))
      : null);
}
