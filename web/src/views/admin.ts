// The administrator's screen: organisations (list, create, suspend or
// reactivate), API keys (create: the secret shown once, with a copy
// button; list; revoke after a confirmation) and the audit log with
// filters and paging. Who may do what is the API's decision (policy.go):
// an organisation's admin sees its own keys and events, the network admin
// all; a refusal is shown where it happened, in the user's language.
import { call, query, ApiError } from '../api';
import { h, fill } from '../dom';
import { field, formAlert, showError, clearErrors, apiMessage, type Field } from '../forms';
import { t, type Key } from '../i18n';
import { auditSection, roles, stamp } from './admin-audit';
import { confirmThen } from '../confirm';

export interface Org { name: string; display_name: string; kind: string; status: string; etag: string; contact_email: string }
interface ApiKey { name: string; organisation: string; role: string; prefix: string; display_name: string; create_time: string; last_used_time: string | null; revoke_time: string | null }

const kinds: Record<string, Key> = {
  ORGANISATION_KIND_GP_PRACTICE: 'admin.kind.gp', ORGANISATION_KIND_PRIMARY_CARE_NETWORK: 'admin.kind.pcn',
  ORGANISATION_KIND_LINK_WORKER_SERVICE: 'admin.kind.linkWorker', ORGANISATION_KIND_COMMUNITY_GROUP: 'admin.kind.group',
  ORGANISATION_KIND_VOLUNTARY_ORGANISATION: 'admin.kind.voluntary', ORGANISATION_KIND_LOCAL_AUTHORITY: 'admin.kind.council',
  ORGANISATION_KIND_PUBLIC_HEALTH: 'admin.kind.publicHealth', ORGANISATION_KIND_HOUSING: 'admin.kind.housing',
  ORGANISATION_KIND_HEALTH_BOARD: 'admin.kind.healthBoard', ORGANISATION_KIND_OTHER: 'admin.kind.other',
};
const statuses: Record<string, Key> = {
  ORGANISATION_STATUS_ACTIVE: 'admin.status.active', ORGANISATION_STATUS_SUSPENDED: 'admin.status.suspended', ORGANISATION_STATUS_CLOSED: 'admin.status.closed',
};

const options = (m: Record<string, Key>) => Object.entries(m).map(([v, k]) => h('option', { value: v }, t(k)));

/** A card form that creates something: violations land next to its fields. */
function createForm(id: string, title: string, fields: Field[], submit: string, send: () => Promise<void>) {
  const form = h('form', { class: 'card', id, novalidate: true },
    h('h3', {}, title), formAlert(), h('div', { class: 'row' }, fields.map((f) => f.wrap)),
    h('button', { type: 'submit', class: 'primary' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      await send();
    } catch (err) {
      showError(form, err);
    }
  });
  return form;
}

/** A link within the page: the hash is the router's, so it moves focus itself. */
const jump = (heading: string, text: string) => h('a', {
  href: '#/admin', onclick: (e: Event) => {
    e.preventDefault();
    const el = document.getElementById(heading);
    el?.setAttribute('tabindex', '-1');
    el?.focus();
  },
}, text);

export async function adminView(main: HTMLElement) {
  const orgList = h('ul', { class: 'rows', id: 'org-list' });
  const keyList = h('ul', { class: 'rows', id: 'key-list' });
  const orgAlert = h('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
  const keyAlert = h('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
  const alertOn = (el: HTMLElement, err: unknown) => {
    el.textContent = err instanceof ApiError ? apiMessage(err) : t('error.generic');
    el.hidden = false;
    el.focus();
  };
  let orgs: Org[] = [];

  // Organisations.
  const orgName = field(t('admin.orgName'), h('input', { type: 'text', required: true, autocomplete: 'organization' }), 'organisation.display_name');
  const orgKind = field(t('admin.orgKind'), h('select', {}, options(kinds)), 'organisation.kind');
  const orgEmail = field(t('admin.orgEmail'), h('input', { type: 'email', autocomplete: 'email' }), 'organisation.contact_email');
  const orgForm = createForm('org-form', t('admin.newOrg'), [orgName, orgKind, orgEmail], t('admin.createOrg'), async () => {
    await call('POST', '/v1/organisations', { display_name: orgName.input.value, kind: orgKind.input.value, contact_email: orgEmail.input.value });
    orgName.input.value = orgEmail.input.value = '';
    await loadOrgs();
  });

  async function setStatus(o: Org, status: string) {
    try {
      await call('PATCH', '/v1/' + o.name + query({ update_mask: 'status' }), { status, etag: o.etag });
      await loadOrgs();
    } catch (err) {
      alertOn(orgAlert, err);
    }
  }

  async function loadOrgs() {
    try {
      const all: Org[] = [];
      let token = '';
      do { // the organisations of one network are few: all of them
        const r = await call<{ organisations: Org[]; next_page_token: string }>('GET', '/v1/organisations' + query({ page_size: 100, page_token: token }));
        all.push(...(r.organisations ?? []));
        token = r.next_page_token;
      } while (token && all.length < 1000);
      orgs = all;
    } catch (err) {
      alertOn(orgAlert, err);
      return;
    }
    fill(orgList, orgs.map((o) => {
      const active = o.status === 'ORGANISATION_STATUS_ACTIVE';
      return h('li', { 'data-name': o.name },
        h('div', {}, h('strong', {}, o.display_name), h('p', { class: 'meta' }, [t(kinds[o.kind] ?? 'admin.kind.other'), t(statuses[o.status] ?? 'admin.status.active')].join(' · '))),
        o.status === 'ORGANISATION_STATUS_CLOSED' ? null : h('button', {
          type: 'button', 'aria-label': t(active ? 'admin.suspendOf' : 'admin.reactivateOf', { name: o.display_name }),
          onclick: () => active
            ? confirmThen(t('admin.suspendConfirm', { name: o.display_name }), t('admin.suspend'), () => setStatus(o, 'ORGANISATION_STATUS_SUSPENDED'))
            : setStatus(o, 'ORGANISATION_STATUS_ACTIVE'),
        }, t(active ? 'admin.suspend' : 'admin.reactivate')));
    }));
    fill(keyOrg.input, orgs.map((o) => h('option', { value: o.name }, o.display_name)));
  }

  // API keys.
  const keyOrg = field(t('admin.keyOrg'), h('select', {}), 'organisation');
  const keyRole = field(t('admin.keyRole'), h('select', {}, options(roles)), 'role');
  const keyName = field(t('admin.keyName'), h('input', { type: 'text', autocomplete: 'off' }), 'display_name', t('admin.keyNameHint'));
  const secretBox = h('div', { id: 'new-key', class: 'card secret', hidden: true });
  const keyForm = createForm('key-form', t('admin.newKey'), [keyOrg, keyRole, keyName], t('admin.createKey'), async () => {
    const r = await call<{ api_key: ApiKey; secret: string }>('POST', '/v1/apiKeys',
      { organisation: keyOrg.input.value, role: keyRole.input.value, display_name: keyName.input.value.trim() });
    keyName.input.value = '';
    showSecret(r.api_key, r.secret);
    await loadKeys();
  });

  function showSecret(k: ApiKey, secret: string) {
    const input = h('input', { type: 'text', id: 'secret', readonly: true, value: secret, spellcheck: 'false', autocomplete: 'off' });
    const copied = h('span', { role: 'status', class: 'hint' });
    fill(secretBox,
      h('h3', { id: 'secret-h', tabindex: '-1' }, t('admin.secretTitle', { name: k.display_name || k.prefix })),
      h('p', { class: 'warning', id: 'secret-warning' }, t('admin.secretWarning')),
      h('div', { class: 'field' }, h('label', { for: 'secret' }, t('admin.secret')), input),
      h('div', { class: 'row' },
        h('button', {
          type: 'button', id: 'copy-secret', onclick: async () => {
            try {
              await navigator.clipboard.writeText(secret);
            } catch {
              input.select(); // no clipboard permission: selected for Ctrl+C
              copied.textContent = t('admin.copyManual');
              return;
            }
            copied.textContent = t('admin.copied');
          },
        }, t('admin.copy')),
        h('button', { type: 'button', id: 'secret-done', onclick: () => { fill(secretBox); secretBox.hidden = true; } }, t('admin.secretDone')), copied));
    secretBox.hidden = false;
    (secretBox.querySelector('#secret-h') as HTMLElement).focus();
  }

  async function loadKeys() {
    let list: ApiKey[];
    try {
      list = (await call<{ api_keys: ApiKey[] }>('GET', '/v1/apiKeys' + query({ include_revoked: revoked.checked, page_size: 100 }))).api_keys ?? [];
    } catch (err) {
      alertOn(keyAlert, err);
      return;
    }
    const orgName = (n: string) => orgs.find((o) => o.name === n)?.display_name ?? n;
    fill(keyList, list.map((k) => h('li', { 'data-name': k.name, 'data-prefix': k.prefix, class: k.revoke_time ? 'revoked' : undefined },
      h('div', {},
        h('strong', {}, k.display_name || k.prefix), ' ', h('code', {}, k.prefix),
        h('p', { class: 'meta' }, [t(roles[k.role] ?? 'admin.role.admin'), orgName(k.organisation)].join(' · ')),
        h('p', { class: 'meta' }, k.revoke_time ? t('admin.revokedAt', { time: stamp(k.revoke_time) })
          : t('admin.usedAt', { created: stamp(k.create_time), used: stamp(k.last_used_time) }))),
      k.revoke_time ? null : h('button', {
        type: 'button', class: 'danger', 'aria-label': t('admin.revokeOf', { name: k.display_name || k.prefix }),
        onclick: () => confirmThen(t('admin.revokeConfirm', { name: k.display_name || k.prefix }), t('admin.revoke'), async () => {
          try {
            await call('POST', `/v1/${k.name}:revoke`, {});
            await loadKeys();
            keyList.focus();
          } catch (err) {
            alertOn(keyAlert, err);
          }
        }),
      }, t('admin.revoke')))));
  }
  const revoked = h('input', { type: 'checkbox', id: 'keys-revoked', onchange: () => void loadKeys() });

  fill(main, h('h1', {}, t('admin.title')),
    h('nav', { class: 'tabs', 'aria-label': t('admin.sections') },
      jump('orgs-h', t('admin.orgs')), jump('keys-h', t('admin.keys')), jump('audit-h', t('admin.audit'))),
    h('section', { id: 'admin-orgs', 'aria-labelledby': 'orgs-h' }, h('h2', { id: 'orgs-h' }, t('admin.orgs')), orgAlert, orgList, orgForm),
    h('section', { id: 'admin-keys', 'aria-labelledby': 'keys-h' }, h('h2', { id: 'keys-h' }, t('admin.keys')), keyAlert, secretBox,
      h('div', { class: 'check' }, revoked, h('label', { for: 'keys-revoked' }, t('admin.showRevoked'))),
      keyForm, h('h3', { id: 'keys-list-h' }, t('admin.keyList')), keyList),
    auditSection());
  keyList.setAttribute('tabindex', '-1');
  keyList.setAttribute('aria-labelledby', 'keys-list-h');
  await loadOrgs();
  await loadKeys();
}
