// Sign-in: OpenID Connect, when sparcd names a provider, above the API
// key form (views/signin.ts). A failed return from the provider (state,
// token, refusal) is said here, in the user's language.
import { h } from '../dom';
import { t } from '../i18n';
import { oidcConfig, signInFailure, startSignIn } from '../oidc';
import { signInView } from './signin';

export async function authView(main: HTMLElement) {
  const cfg = await oidcConfig();
  signInView(main);
  const failure = h('p', { class: 'form-error', role: 'alert', id: 'auth-error', tabindex: '-1', hidden: !signInFailure }, signInFailure ? t(signInFailure) : '');
  const heading = main.querySelector('h1');
  heading?.after(failure);
  if (!cfg) return;
  const button = h('button', { type: 'button', class: 'primary', id: 'oidc-signin' }, t('auth.oidc'));
  button.addEventListener('click', () => {
    button.disabled = true;
    void startSignIn(cfg, '#/');
  });
  failure.after(h('section', { class: 'card narrow', 'aria-labelledby': 'auth-oidc-title' },
    h('h2', { id: 'auth-oidc-title' }, t('auth.oidcTitle')),
    h('p', { class: 'hint' }, t('auth.oidcHint')),
    button),
    h('h2', {}, t('auth.keyTitle')));
  (signInFailure ? failure : button).focus();
}
