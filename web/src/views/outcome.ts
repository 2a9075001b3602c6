// Record an outcome of a referral (RecordOutcome): sessions attended, a
// wellbeing measurement (ONS4: four items 0–10; SWEMWBS: seven items 1–5)
// as the baseline or the follow-up, and what changed. The console checks
// the ranges and that a scale is complete before sending; what the API
// still refuses lands next to the field it names. The referral's etag is
// sent, so an outcome recorded meanwhile by someone else is not
// overwritten unseen.
import { call, ApiError } from '../api';
import { h, fill } from '../dom';
import { field, formAlert, LOCAL, showError, clearErrors, type Field } from '../forms';
import { t, locale, type Key } from '../i18n';
import { loadOr } from './load';
import type { Referral } from '../types';

interface Measure { ons4?: number[]; swemwbs?: number[]; time?: string }
type Outcomed = Referral & { etag: string; outcome?: { sessions_attended?: number; baseline?: Measure; follow_up?: Measure; what_changed?: string } };

const ons4Items: Key[] = ['outcome.ons4.satisfied', 'outcome.ons4.worthwhile', 'outcome.ons4.happy', 'outcome.ons4.anxious'];
const swemwbsItems: Key[] = ['outcome.swemwbs.optimistic', 'outcome.swemwbs.useful', 'outcome.swemwbs.relaxed', 'outcome.swemwbs.problems',
  'outcome.swemwbs.clearly', 'outcome.swemwbs.close', 'outcome.swemwbs.mind'];
const swemwbsScale: Key[] = ['outcome.scale.none', 'outcome.scale.rarely', 'outcome.scale.some', 'outcome.scale.often', 'outcome.scale.all'];

export async function outcomeView(main: HTMLElement, id: string) {
  let r = await loadOr<Outcomed>(main, t('outcome.title'), '/v1/referrals/' + id);
  if (!r) return;
  const which = h('select', {},
    h('option', { value: 'baseline' }, t('outcome.baseline')), h('option', { value: 'follow_up' }, t('outcome.followUp')));
  which.value = r.outcome?.baseline ? 'follow_up' : 'baseline';
  const whichField = field(t('outcome.which'), which, 'which', t('outcome.whichHint'));
  const sessions = field(t('outcome.sessions'), h('input', { type: 'number', min: 0, max: 1000, step: 1, inputmode: 'numeric' }), 'sessions_attended');
  const ons4 = ons4Items.map((k) => field(t(k), h('input', { type: 'number', min: 0, max: 10, step: 1, inputmode: 'numeric', class: 'score' }), ''));
  const swemwbs = swemwbsItems.map((k) => field(t(k),
    h('select', {}, h('option', { value: '' }, t('outcome.scale.unanswered')), swemwbsScale.map((s, i) => h('option', { value: i + 1 }, `${i + 1} ${t(s)}`))), ''));
  const changed = field(t('outcome.whatChanged'), h('textarea', { rows: 3 }), 'what_changed', t('outcome.whatChangedHint'));
  const done = h('p', { role: 'status', class: 'status', id: 'outcome-done', tabindex: '-1' });
  const summary = h('dl', { class: 'facts', id: 'outcome-summary' });
  // The API names items "baseline.ons4[2]": each input carries the name
  // for the measurement chosen, so its violation lands next to it.
  const name = () => {
    ons4.forEach((f, i) => (f.input.dataset.field = `${which.value}.ons4[${i}]`));
    swemwbs.forEach((f, i) => (f.input.dataset.field = `${which.value}.swemwbs[${i}]`));
  };
  name();
  which.addEventListener('change', name);
  const form = h('form', { class: 'card outcome', novalidate: true, id: 'outcome-form' },
    formAlert(), whichField.wrap, sessions.wrap,
    h('fieldset', {}, h('legend', {}, t('outcome.ons4')), h('p', { class: 'hint' }, t('outcome.ons4Hint')), ons4.map((f) => f.wrap)),
    h('fieldset', {}, h('legend', {}, t('outcome.swemwbs')), h('p', { class: 'hint' }, t('outcome.swemwbsHint')), swemwbs.map((f) => f.wrap)),
    changed.wrap,
    h('button', { type: 'submit', class: 'primary', id: 'outcome-send' }, t('outcome.submit')));

  const show = (x: Outcomed) => {
    const o = x.outcome;
    const when = (m?: Measure) => (m?.time ? new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(new Date(m.time)) : t('outcome.notYet'));
    fill(summary,
      h('dt', {}, t('outcome.sessions')), h('dd', {}, String(o?.sessions_attended ?? 0)),
      h('dt', {}, t('outcome.baseline')), h('dd', { id: 'outcome-baseline' }, when(o?.baseline)),
      h('dt', {}, t('outcome.followUp')), h('dd', { id: 'outcome-followup' }, when(o?.follow_up)));
    sessions.input.value = o?.sessions_attended ? String(o.sessions_attended) : '';
  };
  show(r);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    done.textContent = '';
    const bad: { field: string; description: string }[] = [];
    const scores = (fields: Field[], lo: number, hi: number, range: Key) => {
      const vals = fields.map((f) => f.input.value.trim());
      if (vals.every((v) => v === '')) return undefined;
      fields.forEach((f, i) => {
        const n = Number(vals[i]);
        if (vals[i] === '') bad.push({ field: f.input.dataset.field!, description: t('outcome.error.missing') });
        else if (!Number.isInteger(n) || n < lo || n > hi) bad.push({ field: f.input.dataset.field!, description: t(range) });
      });
      return vals.map(Number);
    };
    const o = scores(ons4, 0, 10, 'outcome.error.ons4');
    const s = scores(swemwbs, 1, 5, 'outcome.error.swemwbs');
    const count = sessions.input.value.trim();
    if (count !== '' && !(Number.isInteger(Number(count)) && Number(count) >= 0 && Number(count) <= 1000)) {
      bad.push({ field: 'sessions_attended', description: t('outcome.error.sessions') });
    }
    if (!bad.length && !o && !s && count === '' && !changed.input.value.trim()) {
      bad.push({ field: 'sessions_attended', description: t('outcome.error.empty') });
    }
    if (bad.length) {
      showError(form, new ApiError(400, LOCAL, '', bad));
      return;
    }
    const body: Record<string, unknown> = { etag: r!.etag, what_changed: changed.input.value };
    if (count !== '') body.sessions_attended = Number(count);
    if (o || s) body[which.value] = { ons4: o ?? [], swemwbs: s ?? [] };
    try {
      r = await call<Outcomed>('POST', `/v1/referrals/${id}:recordOutcome`, body);
    } catch (err) {
      showError(form, err);
      return;
    }
    for (const f of [...ons4, ...swemwbs, changed]) f.input.value = '';
    show(r);
    which.value = 'follow_up';
    name();
    done.textContent = t('outcome.done');
    done.focus();
  });

  fill(main, h('h1', {}, t('outcome.title')),
    h('p', { class: 'lead' }, t('outcome.lead', { person: r.person_details?.display_name ?? '', asset: r.summary?.asset_display_name ?? '' })),
    summary, done, form, h('p', {}, h('a', { href: '#/my-referrals' }, t('outcome.back'))));
}
