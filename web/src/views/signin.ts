// Sign-in: paste an API key. It is kept in sessionStorage: this tab only,
// gone when the tab closes, never in a cookie or localStorage. The key is
// checked with one call before it is kept (GET /v1/caller: a key, if sent,
// must be valid), which also says the role, whose first screen opens.
import { apiKey, call, ApiError } from '../api';
import { h, fill } from '../dom';
import { field, formAlert, LOCAL, showError } from '../forms';
import { t } from '../i18n';
import { home, type Caller } from '../caller';

export function signInView(main: HTMLElement) {
  const key = field(t('signin.key'), h('input', { type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' }), 'key', t('signin.keyHint'));
  const form = h('form', { class: 'card narrow', novalidate: true },
    formAlert(), key.wrap,
    h('p', { class: 'hint' }, t('signin.storage')),
    h('button', { type: 'submit', class: 'primary' }, t('signin.submit')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = key.input.value.trim();
    if (!value) {
      showError(form, new ApiError(400, LOCAL, '', [{ field: 'key', description: t('signin.empty') }]));
      return;
    }
    apiKey.signIn(value);
    let me: Caller;
    try {
      // Who the key stands for: checks it, and says where its role starts.
      me = await call<Caller>('GET', '/v1/caller');
    } catch (err) {
      apiKey.signOut();
      showError(form, err instanceof ApiError && err.status === 401 ? new ApiError(401, LOCAL, '', [{ field: 'key', description: t('signin.bad') }]) : err);
      return;
    }
    location.hash = home(me);
  });
  fill(main, h('h1', {}, t('signin.title')), form);
  key.input.focus();
}
