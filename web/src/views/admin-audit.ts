// The audit log: newest first, filtered by time range, actor, outcome and
// method, all the API's own filters; "Show older events" follows the
// API's page token. The method is written as the table shows it
// ("ApiKeyService.RevokeApiKey") or as a service ("ApiKeyService"), and
// sent as the API names methods ("/sparc.v1.ApiKeyService/RevokeApiKey",
// "/sparc.v1.ApiKeyService/" for every method of the service).
import { call, query, ApiError } from '../api';
import { h, fill } from '../dom';
import { field, formAlert, showError, clearErrors } from '../forms';
import { t, locale, type Key } from '../i18n';

interface AuditEvent {
  name: string; time: string; principal: string; principal_display_name: string; organisation: string; role: string;
  method: string; resource: string; outcome: string; code: string; count: number;
}

export const roles: Record<string, Key> = {
  ROLE_LINK_WORKER: 'admin.role.linkWorker', ROLE_GROUP_EDITOR: 'admin.role.groupEditor', ROLE_AREA_ANALYST: 'admin.role.analyst',
  ROLE_ADMIN: 'admin.role.admin', ROLE_NETWORK_ADMIN: 'admin.role.networkAdmin',
};

/** An instant as the user's locale writes it. */
export const stamp = (iso: string | null | undefined) =>
  iso ? new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso)) : t('admin.never');

/** "/sparc.v1.ApiKeyService/CreateApiKey" → "ApiKeyService.CreateApiKey". */
const shortMethod = (m: string) => m.replace(/^\/sparc\.v1\./, '').replace('/', '.');

/** "ApiKeyService.RevokeApiKey" → "/sparc.v1.ApiKeyService/RevokeApiKey"; "ApiKeyService" → "/sparc.v1.ApiKeyService/". */
export function methodFilter(v: string): string | undefined {
  const s = v.trim();
  if (!s) return undefined;
  if (s.startsWith('/')) return s;
  const [service, method] = s.replace(/^sparc\.v1\./, '').split('.', 2);
  return `/sparc.v1.${service}/${method ?? ''}`;
}

/** The services, offered as the method filter's suggestions. */
const services = ['AssetService', 'ReferralService', 'PersonService', 'OrganisationService', 'ApiKeyService', 'AuditService', 'AreaService',
  'CoverageService', 'PostcodeService', 'WebhookService', 'NotificationService', 'DirectoryImportService'];

/** A datetime-local value as RFC 3339 in UTC, or undefined. */
const instant = (v: string) => (v ? new Date(v).toISOString() : undefined);

function row(e: AuditEvent): HTMLElement {
  return h('tr', { 'data-method': e.method, 'data-outcome': e.outcome, 'data-principal': e.principal, 'data-resource': e.resource },
    h('td', {}, h('time', { datetime: e.time }, stamp(e.time))),
    h('td', {}, e.principal_display_name ? `${e.principal_display_name} (${e.principal})` : e.principal, e.role ? h('span', { class: 'meta' }, ' · ' + t(roles[e.role] ?? 'admin.role.admin')) : null),
    h('td', {}, shortMethod(e.method)),
    h('td', {}, e.resource || '–'),
    h('td', {}, t(e.outcome === 'ok' ? 'admin.outcome.ok' : e.outcome === 'denied' ? 'admin.outcome.denied' : 'admin.outcome.error'),
      e.count > 1 ? ` ×${e.count}` : '', e.code && e.code !== 'OK' ? h('span', { class: 'meta' }, ' ' + e.code) : null));
}

export function auditSection(): HTMLElement {
  const from = field(t('admin.auditFrom'), h('input', { type: 'datetime-local' }), 'start_time');
  const to = field(t('admin.auditTo'), h('input', { type: 'datetime-local' }), 'end_time');
  const actor = field(t('admin.auditActor'), h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' }), 'principal', t('admin.auditActorHint'));
  const method = field(t('admin.auditMethod'), h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', list: 'audit-services' }), 'method', t('admin.auditMethodHint'));
  const outcome = field(t('admin.auditOutcome'), h('select', {},
    h('option', { value: '' }, t('admin.outcome.any')), h('option', { value: 'ok' }, t('admin.outcome.ok')),
    h('option', { value: 'denied' }, t('admin.outcome.denied')), h('option', { value: 'error' }, t('admin.outcome.error'))), 'outcome');
  const form = h('form', { class: 'card', id: 'audit-form', novalidate: true }, formAlert(),
    h('div', { class: 'row' }, from.wrap, to.wrap, actor.wrap, method.wrap, outcome.wrap),
    h('datalist', { id: 'audit-services' }, services.map((s) => h('option', { value: s }))),
    h('button', { type: 'submit', class: 'primary' }, t('admin.auditApply')));
  const body = h('tbody', {});
  const status = h('p', { role: 'status', class: 'status', id: 'audit-status' });
  const more = h('button', { type: 'button', id: 'audit-more', hidden: true }, t('admin.auditMore'));
  const table = h('table', { class: 'data', id: 'audit-table' },
    h('caption', { class: 'sr-only' }, t('admin.audit')),
    h('thead', {}, h('tr', {}, [t('admin.auditTime'), t('admin.auditActor'), t('admin.auditMethod'), t('admin.auditResource'), t('admin.auditOutcome')]
      .map((c) => h('th', { scope: 'col' }, c)))), body);

  let token = '', seq = 0, shown = 0;
  const PAGE = 50;
  async function page(first: boolean) {
    const mine = ++seq;
    clearErrors(form);
    if (first) { token = ''; shown = 0; fill(body); }
    const filters = { start_time: instant(from.input.value), end_time: instant(to.input.value), principal: actor.input.value.trim(), outcome: outcome.input.value,
      method: methodFilter(method.input.value) };
    status.textContent = t('common.loading');
    try {
      const r = await call<{ events: AuditEvent[]; next_page_token: string }>('GET', '/v1/auditEvents' + query({ ...filters, page_size: PAGE, page_token: token || undefined }));
      if (mine !== seq) return;
      const events = r.events ?? [];
      body.append(...events.map(row));
      const found = events.length;
      token = r.next_page_token ?? '';
      shown += found;
      more.hidden = !token;
      status.textContent = shown ? t('admin.auditShown', { count: shown }) : t('admin.auditNone');
    } catch (err) {
      status.textContent = '';
      if (err instanceof ApiError) showError(form, err);
      else status.textContent = t('error.generic');
    }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); void page(true); });
  more.addEventListener('click', () => void page(false));
  void page(true);
  return h('section', { id: 'admin-audit', 'aria-labelledby': 'audit-h' }, h('h2', { id: 'audit-h' }, t('admin.audit')), form, status,
    h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'audit-h' }, table), more);
}
