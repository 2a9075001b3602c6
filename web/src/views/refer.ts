// Refer someone to an asset, in two steps on one page: find the person
// (by the start of their name, optionally their year of birth) or
// register them, with what consent means said before it is asked; then
// the referral: reasons (the asset's categories), a note for the provider,
// priority. The request id is chosen once per form, so a retried submit
// cannot make two referrals.
import { call } from '../api';
import { h, fill } from '../dom';
import { field, formAlert, showError, clearErrors } from '../forms';
import { loadOr } from './load';
import { t, label } from '../i18n';
import { vocabulary } from '../vocab';
import type { Asset, Person, Referral } from '../types';
import { idOf } from '../types';

export async function referView(main: HTMLElement, assetId: string) {
  const asset = await loadOr<Asset>(main, t('refer.title'), '/v1/assets/' + assetId);
  if (!asset) return;
  const terms = await vocabulary().catch(() => new Map());
  let person: Person | undefined;

  // Step 1: find.
  const prefix = field(t('who.namePrefix'), h('input', { type: 'text', autocomplete: 'off' }), 'display_name_prefix', t('who.namePrefixHint'));
  const findYear = field(t('who.yearOfBirth'), h('input', { type: 'number', inputmode: 'numeric', min: 1900, max: 2100 }), 'year_of_birth');
  const found = h('ul', { class: 'people', id: 'people' });
  const foundStatus = h('p', { role: 'status', 'aria-live': 'polite' });
  const find = h('form', { class: 'card', novalidate: true, id: 'find-person' }, h('h3', {}, t('who.find')), formAlert(),
    h('div', { class: 'row' }, prefix.wrap, findYear.wrap), h('button', { type: 'submit' }, t('who.search')), foundStatus, found);
  find.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(find);
    try {
      const r = await call<{ people: Person[] }>('POST', '/v1/people:search', {
        display_name_prefix: prefix.input.value.trim(), year_of_birth: Number(findYear.input.value) || undefined, page_size: 20,
      });
      const people = r.people ?? [];
      foundStatus.textContent = people.length ? t('who.foundCount', { count: people.length }) : t('who.noneFound');
      fill(found, people.map((p) => h('li', {}, h('span', {}, [p.display_name, p.year_of_birth || p.age_band, p.postcode].filter(Boolean).join(' · ')),
        h('button', { type: 'button', onclick: () => choose(p) }, t('who.choose', { name: p.display_name })))));
    } catch (err) {
      showError(find, err);
    }
  });

  // Step 1, or: register, consent explained before it is captured.
  const name = field(t('who.displayName'), h('input', { type: 'text', autocomplete: 'off', required: true, maxlength: 100 }), 'person.display_name', t('who.displayNameHint'));
  const year = field(t('who.yearOfBirth'), h('input', { type: 'number', inputmode: 'numeric', min: 1900, max: 2100 }), 'person.year_of_birth');
  const pc = field(t('who.postcode'), h('input', { type: 'text', autocomplete: 'off' }), 'person.postcode');
  const phone = field(t('who.phone'), h('input', { type: 'tel', autocomplete: 'off' }), 'person.contact.phone');
  const email = field(t('who.email'), h('input', { type: 'email', autocomplete: 'off' }), 'person.contact.email');
  const share = h('input', { type: 'checkbox', id: 'consent-share' });
  const scope = (id: string, text: string) => {
    const box = h('input', { type: 'checkbox', id, disabled: true });
    return { box, el: h('div', { class: 'check' }, box, h('label', { for: id }, text)) };
  };
  const sContact = scope('consent-contact', t('consent.contact'));
  const sNotes = scope('consent-notes', t('consent.notes'));
  share.addEventListener('change', () => {
    for (const s of [sContact, sNotes]) {
      s.box.disabled = !share.checked;
      if (!share.checked) s.box.checked = false;
    }
  });
  const consent = h('fieldset', { class: 'consent', 'data-field': 'person.consent', id: 'consent' },
    h('legend', {}, t('consent.title')),
    h('p', {}, t('consent.explain')),
    h('ul', {}, h('li', {}, t('consent.basic')), h('li', {}, t('consent.withdraw'))),
    h('div', { class: 'check' }, share, h('label', { for: 'consent-share' }, t('consent.share'))),
    h('div', { class: 'scopes' }, sContact.el, sNotes.el),
    h('p', { class: 'field-error', id: 'consent-error', hidden: true }));
  const register = h('form', { class: 'card', novalidate: true, id: 'register-person' }, h('h3', {}, t('who.register')), formAlert(),
    name.wrap, h('div', { class: 'row' }, year.wrap, pc.wrap), h('div', { class: 'row' }, phone.wrap, email.wrap), consent,
    h('button', { type: 'submit', id: 'register' }, t('who.registerSubmit')));
  register.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(register);
    const scopes = share.checked ? ['CONSENT_SCOPE_BASIC', ...(sContact.box.checked ? ['CONSENT_SCOPE_CONTACT'] : []), ...(sNotes.box.checked ? ['CONSENT_SCOPE_NOTES'] : [])] : [];
    try {
      const p = await call<Person>('POST', '/v1/people', {
        display_name: name.input.value.trim(),
        year_of_birth: Number(year.input.value) || undefined,
        postcode: pc.input.value.trim() || undefined,
        contact: phone.input.value || email.input.value ? { phone: phone.input.value.trim(), email: email.input.value.trim() } : undefined,
        contact_method: email.input.value ? 'CONTACT_METHOD_EMAIL' : phone.input.value ? 'CONTACT_METHOD_PHONE' : undefined,
        consent: { share_with_provider: share.checked, scopes },
      });
      choose(p);
    } catch (err) {
      showError(register, err);
    }
  });

  // Step 2: the referral.
  const chosen = h('p', { id: 'chosen', role: 'status', 'aria-live': 'polite' }, t('refer.noPerson'));
  const reasons = asset.categories.map((c) => {
    const box = h('input', { type: 'checkbox', id: 'reason-' + c, value: c, checked: true });
    return { box, el: h('div', { class: 'check' }, box, h('label', { for: 'reason-' + c }, label(terms.get(c), c))) };
  });
  const note = field(t('refer.note'), h('textarea', { rows: 4, maxlength: 2000 }), 'provider_note', t('refer.noteHint'));
  const urgent = h('input', { type: 'checkbox', id: 'urgent' });
  const submit = h('button', { type: 'submit', class: 'primary', disabled: true, id: 'send' }, t('refer.submit'));
  const requestId = crypto.randomUUID();
  const refer = h('form', { class: 'card', novalidate: true, id: 'referral-form' }, formAlert(), chosen,
    h('fieldset', { 'data-field': 'reasons', id: 'reasons' }, h('legend', {}, t('refer.reasons')), reasons.map((r) => r.el),
      h('p', { class: 'field-error', id: 'reasons-error', hidden: true })),
    note.wrap,
    h('div', { class: 'check' }, urgent, h('label', { for: 'urgent' }, t('refer.urgent'))),
    submit);
  refer.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!person) return;
    clearErrors(refer);
    submit.disabled = true;
    try {
      const r = await call<Referral>('POST', '/v1/referrals', {
        request_id: requestId, person: person.name, asset: asset.name,
        reasons: reasons.filter((x) => x.box.checked).map((x) => x.box.value),
        provider_note: note.input.value.trim(), priority: urgent.checked ? 'REFERRAL_PRIORITY_URGENT' : 'REFERRAL_PRIORITY_ROUTINE',
      });
      location.hash = '#/referral/' + idOf(r.name);
    } catch (err) {
      submit.disabled = false;
      showError(refer, err);
    }
  });

  function choose(p: Person) {
    person = p;
    chosen.textContent = t('refer.person', { name: p.display_name });
    submit.disabled = false;
    note.input.focus();
  }

  fill(main,
    h('p', {}, h('a', { href: '#/asset/' + assetId }, t('refer.back'))),
    h('h1', {}, t('refer.title')),
    h('p', { class: 'lead' }, t('refer.to', { asset: asset.display_name })),
    h('section', { 'aria-labelledby': 'step1' }, h('h2', { id: 'step1' }, t('refer.step1')), h('div', { class: 'two' }, find, register)),
    h('section', { 'aria-labelledby': 'step2' }, h('h2', { id: 'step2' }, t('refer.step2')), refer));
  prefix.input.focus();
}
