// Form fields with a label and an error slot, and how an API error lands
// on them: each field violation next to the field it names (aria-invalid,
// aria-describedby), in the user's language; anything else in the form's
// alert.
import { ApiError } from './api';
import { h, uid } from './dom';
import { t, lang, type Key } from './i18n';

export interface Field {
  wrap: HTMLElement;
  input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
  error: HTMLElement;
}

/** A labelled input. apiField is the field path the API names in violations. */
export function field(label: string, input: Field['input'], apiField: string, hint?: string): Field {
  const id = input.id || uid('f');
  input.id = id;
  input.dataset.field = apiField;
  const error = h('p', { class: 'field-error', id: id + '-error', hidden: true });
  const hintEl = hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null;
  input.setAttribute('aria-describedby', [hintEl?.id, error.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), hintEl, input, error);
  return { wrap, input, error };
}

/** Violations' field names the API may use for one input, beyond its own. */
const aliases: Record<string, string> = { name: 'postcode', 'person.name': 'person' };

/** Our own wording for the fields the console asks for; others get the generic one. */
const fieldMessages: Record<string, Key> = {
  postcode: 'error.field.postcode',
  'person.postcode': 'error.field.postcode',
  'person.display_name': 'error.field.displayName',
  'person.year_of_birth': 'error.field.yearOfBirth',
  'person.contact.email': 'error.field.email',
  'person.contact.phone': 'error.field.phone',
  display_name_prefix: 'error.field.namePrefix',
  provider_note: 'error.field.note',
  reasons: 'error.field.reasons',
  what_changed: 'outcome.error.whatChanged',
  age: 'search.ageError',
};

/** The message for one violation, in the user's language. */
function describe(fieldName: string, description: string): string {
  const key = fieldMessages[fieldName];
  if (key) return t(key);
  return lang() === 'en' ? description : t('error.field', { description });
}

/** The reason of an error the console made itself: its descriptions are already in the user's language. */
export const LOCAL = 'LOCAL';

/** Clears the errors of form. */
export function clearErrors(form: HTMLElement) {
  for (const el of form.querySelectorAll<HTMLElement>('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll<HTMLElement>('.field-error, .form-error')) {
    el.hidden = true;
    el.textContent = '';
  }
}

/** Puts err on form: violations next to their fields, the rest in the form's alert. Focuses the first. */
export function showError(form: HTMLElement, err: unknown) {
  clearErrors(form);
  const alert = form.querySelector<HTMLElement>('.form-error');
  if (!(err instanceof ApiError)) throw err;
  let first: HTMLElement | null = null;
  const unplaced: string[] = [];
  for (const v of err.violations) {
    const name = v.field.replace(/\[\d+\]$/, '');
    const input = form.querySelector<HTMLElement>(`[data-field="${CSS.escape(v.field)}"]`) ?? // an item of a list, e.g. baseline.ons4[2]
      form.querySelector<HTMLElement>(`[data-field="${CSS.escape(name)}"]`) ??
      form.querySelector<HTMLElement>(`[data-field="${CSS.escape(aliases[name] ?? '')}"]`);
    const msg = err.reason === LOCAL ? v.description : describe(input?.dataset.field ?? name, v.description);
    const slot = input && document.getElementById(input.id + '-error');
    if (input && slot) {
      input.setAttribute('aria-invalid', 'true');
      slot.textContent = msg;
      slot.hidden = false;
      first ??= input;
    } else unplaced.push(msg);
  }
  if (alert && (unplaced.length || !err.violations.length)) {
    alert.textContent = unplaced.length ? unplaced.join(' ') : apiMessage(err);
    alert.hidden = false;
    first ??= alert;
  }
  first?.focus();
}

/** A whole-call failure in the user's language, by the error's reason or status. */
export function apiMessage(err: ApiError): string {
  const byReason: Record<string, Key> = {
    CREDENTIALS_MISSING: 'error.signin', CREDENTIALS_INVALID: 'error.signin', ROLE_NOT_PERMITTED: 'error.role',
    RATE_LIMITED: 'error.busy', DATABASE_UNAVAILABLE: 'error.busy', NETWORK: 'error.network', NO_PLACE_LEFT: 'error.noPlace',
    AGE_NOT_ELIGIBLE: 'error.age',
  };
  const key = byReason[err.reason] ?? (err.status === 401 ? 'error.signin' : err.status === 403 ? 'error.role' : err.status === 404 ? 'error.notFound' : 'error.generic');
  return t(key);
}

/** The alert slot a form shows whole-call errors in. */
export const formAlert = () => h('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
