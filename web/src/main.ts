// The console's shell: header (navigation, language, sign-in state), a
// hash router, and one view at a time in <main>. Each view is a function
// that renders into main and may return a clean-up.
import { signedIn, signOut } from './api';
import { h, fill } from './dom';
import { lang, setLang, t, type Lang } from './i18n';
import { authView } from './views/auth';
import { finishSignIn } from './oidc';
import { myReferralsView } from './views/myreferrals';
import { outcomeView } from './views/outcome';
import { searchView } from './views/search';
import { assetView } from './views/asset';
import { referView } from './views/refer';
import { referralView } from './views/referral';
import { groupListingsView } from './views/group';
import { screens, whoAmI, caller } from './caller';
import { groupEditView } from './views/groupEdit';
import { groupInboxView } from './views/groupInbox';
import { officerView } from './views/officer';
import { adminView } from './views/admin';
import { networkView } from './views/network';

export type Cleanup = (() => void) | void;
type View = (main: HTMLElement, arg: string) => Cleanup | Promise<Cleanup>;

const routes: [RegExp, View][] = [
  [/^#\/signin$/, authView],
  [/^#\/my-referrals$/, myReferralsView],
  [/^#\/outcome\/([\w-]+)$/, outcomeView],
  [/^#\/asset\/([\w-]+)$/, assetView],
  [/^#\/refer\/([\w-]+)$/, referView],
  [/^#\/referral\/([\w-]+)$/, referralView],
  [/^#\/group$/, groupListingsView], [/^#\/group\/inbox$/, groupInboxView], [/^#\/group\/(?:new|asset\/([\w-]+))$/, groupEditView],
  [/^#\/coverage$/, officerView],
  [/^#\/network$/, networkView],
  [/^#\/admin$/, adminView],
  [/^(#\/?)?$/, searchView],
];

const header = h('header', { class: 'top' });
const main = h('main', { id: 'main', tabindex: '-1' });
let cleanup: Cleanup;

function renderHeader() {
  const select = h('select', { id: 'lang', onchange: () => { setLang(select.value as Lang); render(); } },
    h('option', { value: 'en', lang: 'en' }, 'English'), h('option', { value: 'nl', lang: 'nl' }, 'Nederlands'));
  select.value = lang();
  const shown = screens(signedIn());
  const link = (screen: (typeof shown)[number], href: string, id: string, text: string) => shown.includes(screen) ? h('a', { href, id }, text) : null;
  const who = caller();
  fill(header,
    h('a', { class: 'skip', href: '#main', onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, t('nav.skip')),
    h('a', { class: 'brand', href: '#/' }, 'SPARC'),
    h('nav', { 'aria-label': t('nav.label') },
      link('search', '#/', 'nav-search', t('nav.search')),
      link('myReferrals', '#/my-referrals', 'myref-link', t('myref.nav')),
      link('listings', '#/group', 'nav-listings', t('group.nav.listings')),
      link('inbox', '#/group/inbox', 'nav-inbox', t('group.nav.inbox')),
      link('coverage', '#/coverage', 'nav-coverage', t('officer.nav')),
      link('network', '#/network', 'nav-network', t('network.nav')),
      link('admin', '#/admin', 'nav-admin', t('admin.nav')),
      who ? h('span', { class: 'who', id: 'who' }, t('nav.who', { name: who.display_name || who.principal, org: who.organisation_display_name })) : null,
      signedIn()
        ? h('button', { type: 'button', id: 'signout', onclick: () => { signOut(); location.hash = '#/signin'; render(); } }, t('nav.signOut'))
        : h('a', { href: '#/signin', id: 'signin-link' }, t('nav.signIn'))),
    h('div', { class: 'lang' }, h('label', { for: 'lang' }, t('nav.language')), select));
}

/** Renders the view the hash names. Also re-run on a language change. */
export async function render() {
  document.documentElement.lang = lang();
  document.title = t('app.title');
  // The header offers the caller's screens: who they are is asked once per sign-in.
  if (signedIn()) await whoAmI();
  renderHeader();
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const hash = location.hash;
  for (const [re, view] of routes) {
    const m = re.exec(hash);
    if (m) {
      main.replaceChildren();
      cleanup = await view(main, m[1] ?? '');
      return;
    }
  }
  fill(main, h('h1', {}, t('error.notFound')));
}

/** Goes to a view and moves focus to its heading, as a page load would. */
export function go(hash: string) {
  location.hash = hash;
}

document.body.append(header, main);
window.addEventListener('hashchange', async () => {
  await render();
  (main.querySelector('h1') as HTMLElement | null)?.setAttribute('tabindex', '-1');
  (main.querySelector('h1') as HTMLElement | null)?.focus();
});
// The first screen is on: the browser tests measure this mark from navigation.
void finishSignIn().then(render).then(() => {
  performance.mark('sparc-ready');
  document.body.setAttribute('data-ready', '');
});
