// Creating and editing a listing: name, description, sessions (weekday,
// times, time zone, dates), cost, accessibility, places, referrals, how
// people take part (in person, with a pin on the map placed by a click,
// the postcode or the numbers; or by telephone, online or at home, with
// the area served: council or LSOA codes, or the whole country) and
// categories. An existing listing can be paused or closed (after a
// confirmation that says what it does to searches) and reopened.
//
// A save sends only the fields the person changed (update_mask) with the
// etag read. When someone else saved in between (ABORTED, reason
// ETAG_MISMATCH) nothing typed is lost: the listing is read again, what
// changed on the server is listed, and the person can put their own edits
// on top of the current version (their fields over the new ones, every
// other field as now saved) and save again, or take the current version.
import { call, ApiError, type Violation } from '../api';
import { h, fill, uid } from '../dom';
import { field, formAlert, showError, clearErrors, apiMessage, LOCAL } from '../forms';
import { t, label, lang, type Key } from '../i18n';
import { session as sessionLine, weekday, zoneName } from '../format';
import { vocabulary } from '../vocab';
import { loadMap } from '../map';
import type { Term } from '../types';
import { idOf } from '../types';
import { confirmStillTrue, verifiedText, statusText, type Listing } from './group';
import { confirmThen } from '../confirm';

interface SessionValues { day: string; start_time: string; end_time: string; timezone: string; valid_from: string; valid_until: string }
interface Values {
  display_name: string;
  description: string;
  categories: string[];
  sessions: SessionValues[];
  cost: { kind: string; note: string };
  accessibility: string[];
  capacity: string;
  accepting_referrals: boolean;
  location: { latitude: number; longitude: number; address: string; postcode: string; locality: string; country: string };
  delivery_mode: string;
  /** A remote service's named area; drawn: the listing has a drawn area (service_area_geojson), kept as it is. */
  service_area: { area_codes: string[]; country: string; drawn: boolean };
}
type Name = keyof Values;
const names: Name[] = ['display_name', 'description', 'categories', 'sessions', 'cost', 'accessibility', 'capacity', 'accepting_referrals', 'location', 'delivery_mode', 'service_area'];
const IN_PERSON = 'DELIVERY_MODE_IN_PERSON';
const deliveryModes: [string, Key][] = [[IN_PERSON, 'group.delivery.inPerson'], ['DELIVERY_MODE_TELEPHONE', 'group.delivery.telephone'],
  ['DELIVERY_MODE_ONLINE', 'group.delivery.online'], ['DELIVERY_MODE_HOME_VISIT', 'group.delivery.homeVisit']];
const isRemote = (v: Values) => v.delivery_mode !== IN_PERSON;

// The API's field paths ("asset.cost.note") are written in double quotes:
// the i18n test takes single-quoted 'namespace.name' for catalogue keys.

const weekdays = ['WEEKDAY_MONDAY', 'WEEKDAY_TUESDAY', 'WEEKDAY_WEDNESDAY', 'WEEKDAY_THURSDAY', 'WEEKDAY_FRIDAY', 'WEEKDAY_SATURDAY', 'WEEKDAY_SUNDAY'];

/** The label of each field, for the form and for the list of what changed on the server. */
const fieldLabel: Record<Name, Key> = {
  display_name: 'group.f.name', description: 'group.f.description', categories: 'group.f.categories', sessions: 'group.f.sessions',
  cost: 'group.f.cost', accessibility: 'group.f.accessibility', capacity: 'group.f.capacity', accepting_referrals: 'group.f.accepting', location: 'group.f.location',
  delivery_mode: 'group.f.delivery', service_area: 'group.f.serviceArea',
};

/** The default zone of a new session: the listing's own, else its country's, else the browser's. */
function defaultZone(v: Values): string {
  if (v.sessions[0]?.timezone) return v.sessions[0].timezone;
  if (v.location.country === 'NL') return 'Europe/Amsterdam';
  if (v.location.country === 'GB') return 'Europe/London';
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'Europe/London';
}

function fromListing(a: Listing | undefined): Values {
  return {
    display_name: a?.display_name ?? '',
    description: a?.description ?? '',
    categories: [...(a?.categories ?? [])].sort(),
    sessions: (a?.sessions ?? []).map((s) => ({ day: s.day, start_time: s.start_time, end_time: s.end_time, timezone: s.timezone, valid_from: s.valid_from ?? '', valid_until: s.valid_until ?? '' })),
    cost: { kind: a?.cost?.kind && a.cost.kind !== 'COST_KIND_UNSPECIFIED' ? a.cost.kind : 'COST_KIND_FREE', note: a?.cost?.note ?? '' },
    accessibility: [...(a?.accessibility ?? [])].sort(),
    capacity: a?.capacity !== undefined && a?.capacity !== null ? String(a.capacity) : '',
    accepting_referrals: a?.accepting_referrals ?? true,
    location: {
      latitude: a?.location?.latitude ?? 0, longitude: a?.location?.longitude ?? 0, address: a?.location?.address ?? '',
      postcode: a?.location?.postcode ?? '', locality: a?.location?.locality ?? '', country: a?.location?.country || 'GB',
    },
    delivery_mode: a?.delivery_mode && a.delivery_mode !== 'DELIVERY_MODE_UNSPECIFIED' ? a.delivery_mode : IN_PERSON,
    service_area: { area_codes: a?.service_area?.area_codes ?? [], country: a?.service_area?.country ?? '', drawn: !!a?.service_area_geojson },
  };
}

const same = (a: Values, b: Values, k: Name) => JSON.stringify(a[k]) === JSON.stringify(b[k]);
const changed = (from: Values, to: Values) => names.filter((k) => !same(from, to, k));

/** The API's JSON for the named fields of v. */
function body(v: Values, keys: Name[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    if (k === 'service_area') {
      // In person: none (a masked update clears it). A drawn area is kept as it is.
      if (isRemote(v) && !v.service_area.drawn) out.service_area = v.service_area.country ? { country: v.service_area.country } : { area_codes: v.service_area.area_codes };
    } else if (k === 'capacity') {
      if (v.capacity !== '') out.capacity = Number(v.capacity);
    } else if (k === 'sessions') {
      out.sessions = v.sessions.map((s) => Object.fromEntries(Object.entries(s).filter(([, x]) => x !== '')));
    } else out[k] = v[k];
  }
  return out;
}

/** The update mask for the changed fields: a named service area replaces a drawn one. */
const maskOf = (v: Values, keys: Name[]) => keys.flatMap((k) => (k === 'service_area' && !v.service_area.drawn ? [k, 'service_area_geojson'] : [k])).join(',');

/** Our own words, in the user's language, for the violations of the fields this form asks for. */
const messages: [RegExp, Key][] = [
  [/^asset\.display_name$/, 'group.err.name'],
  [/^asset\.description$/, 'group.err.description'],
  [/\.day$/, 'group.err.day'],
  [/\.start_time$/, 'group.err.start'],
  [/\.end_time$/, 'group.err.end'],
  [/\.timezone$/, 'group.err.zone'],
  [/\.valid_(from|until)$/, 'group.err.date'],
  [/^asset\.location\.(latitude|longitude)$/, 'group.err.pin'],
  [/^asset\.location\.country$/, 'group.err.country'],
  [/^asset\.location\.postcode$/, 'group.err.postcode'],
  [/^asset\.capacity$/, 'group.err.capacity'],
  [/^asset\.cost/, 'group.err.cost'],
  [/^asset\.(categories|accessibility)/, 'group.err.codes'],
  [/^asset\.service_area(_geojson)?$/, 'group.err.serviceArea'],
  [/^asset\.service_area\.country$/, 'group.err.serviceCountry'],
];
const areaCode = /^asset\.service_area\.area_codes\[(\d+)\]$/;
function translated(err: unknown, sent: Values): unknown {
  if (!(err instanceof ApiError) || !err.violations.length) return err;
  // Codes refused one by one (unknown, duplicate) are named together next to the codes.
  const bad = err.violations.flatMap((v) => { const m = areaCode.exec(v.field); return m ? [sent.service_area.area_codes[Number(m[1])] ?? m[1]] : []; });
  const vs: Violation[] = err.violations.filter((v) => !areaCode.test(v.field)).map((v) => {
    const key = messages.find(([re]) => re.test(v.field))?.[1];
    return { field: v.field, description: key ? t(key) : lang() === 'en' ? v.description : t('error.field', { description: v.description }) };
  });
  if (bad.length) vs.push({ field: 'asset.service_area.area_codes', description: t('group.err.areaCodes', { codes: bad.join(', ') }) });
  return new ApiError(err.status, LOCAL, err.message, vs);
}

const isConflict = (err: unknown) => err instanceof ApiError && (err.reason === 'ETAG_MISMATCH' || err.status === 409);

export async function groupEditView(main: HTMLElement, id: string) {
  fill(main, h('h1', {}, t(id ? 'group.edit.title' : 'group.new.title')), h('p', { role: 'status' }, t('common.loading')));
  const terms = await vocabulary().catch(() => new Map<string, Term>());
  let base: Listing | undefined;
  if (id) {
    try {
      base = await call<Listing>('GET', '/v1/assets/' + id);
    } catch (err) {
      fill(main, h('h1', {}, t('group.edit.title')), h('p', { role: 'alert' }, err instanceof ApiError ? apiMessage(err) : t('error.generic')));
      return;
    }
  }
  const editor = new Editor(main, terms);
  editor.show(base, fromListing(base));
  return () => editor.destroy();
}

class Editor {
  private base: Listing | undefined;
  private form!: HTMLFormElement;
  private read!: () => Values;
  private conflict = h('section', { class: 'conflict', id: 'conflict', role: 'alert', tabindex: '-1', hidden: true, 'aria-labelledby': 'conflict-h' });
  private status = h('p', { role: 'status', 'aria-live': 'polite', id: 'edit-status' });
  private destroyMap: (() => void) | undefined;
  private resizeMap: (() => void) | undefined;

  constructor(private main: HTMLElement, private terms: Map<string, Term>) {}

  destroy() { this.destroyMap?.(); }

  /** Renders the form for listing base with the values v (its own, or edits on top of it). */
  show(base: Listing | undefined, v: Values) {
    this.destroy();
    this.base = base;
    const terms = [...this.terms.values()];
    const text = (k: Name, input: HTMLInputElement | HTMLTextAreaElement, hint?: string) => field(t(fieldLabel[k]), input, 'asset.' + k, hint);
    const name = text('display_name', h('input', { type: 'text', value: v.display_name, maxlength: 200 }));
    const desc = text('description', h('textarea', { rows: 4 }));
    desc.input.value = v.description;

    // Sessions: one fieldset each, numbered, so violations (asset.sessions[i].…) find their input.
    const sessionsBox = h('div', { id: 'sessions-editor' });
    const rows: (() => SessionValues)[] = [];
    const renderSessions = (list: SessionValues[]) => {
      rows.length = 0;
      fill(sessionsBox, list.map((s, i) => sessionRow(s, i, list.length, (remove) => {
        const now = rows.map((r) => r());
        if (remove) now.splice(i, 1);
        renderSessions(now);
        (sessionsBox.querySelector<HTMLElement>(remove ? '#add-session' : `[data-field="asset.sessions[${i}].day"]`) ?? addSession).focus();
      }, rows)));
      if (!list.length) sessionsBox.append(h('p', { class: 'hint' }, t('group.sessions.none')));
    };
    renderSessions(v.sessions);
    const addSession = h('button', { type: 'button', id: 'add-session' }, t('group.sessions.add'));
    addSession.addEventListener('click', () => {
      const now = rows.map((r) => r());
      const prev = now[now.length - 1];
      now.push({ day: prev?.day ?? 'WEEKDAY_MONDAY', start_time: prev?.start_time ?? '10:00', end_time: prev?.end_time ?? '11:00', timezone: prev?.timezone ?? defaultZone(this.read()), valid_from: '', valid_until: '' });
      renderSessions(now);
      sessionsBox.querySelector<HTMLElement>(`[data-field="asset.sessions[${now.length - 1}].day"]`)?.focus();
    });

    // Cost: free, low cost or paid, and what it costs in words.
    const costKind = field(t('group.f.costKind'), h('select', {},
      h('option', { value: 'COST_KIND_FREE' }, t('cost.free')), h('option', { value: 'COST_KIND_LOW_COST' }, t('cost.low')), h('option', { value: 'COST_KIND_PAID' }, t('cost.paid'))), "asset.cost.kind");
    costKind.input.value = v.cost.kind;
    const costNote = field(t('group.f.costNote'), h('input', { type: 'text', value: v.cost.note }), "asset.cost.note", t('group.f.costNoteHint'));

    const capacity = field(t('group.f.capacity'), h('input', { type: 'number', min: 1, step: 1, inputmode: 'numeric', value: v.capacity }), "asset.capacity", t('group.f.capacityHint'));
    const accepting = h('input', { type: 'checkbox', id: uid('acc'), checked: v.accepting_referrals });

    const boxes = (vocab: string, k: 'categories' | 'accessibility', chosen: string[]) => {
      const list = terms.filter((x) => x.vocabulary === vocab);
      const inputs = list.map((x) => h('input', { type: 'checkbox', value: x.code, id: `${k}-${x.code}`, checked: chosen.includes(x.code) }));
      const groupId = uid(k);
      const fs = h('fieldset', { id: groupId, 'data-field': 'asset.' + k, tabindex: '-1', 'aria-describedby': groupId + '-error' },
        h('legend', {}, t(fieldLabel[k])),
        h('div', { class: 'cats' }, list.map((x, i) => h('div', { class: 'check' }, inputs[i], h('label', { for: inputs[i].id }, label(x, x.code))))),
        h('p', { class: 'field-error', id: groupId + '-error', hidden: true }));
      return { fs, read: () => inputs.filter((b) => b.checked).map((b) => b.value).sort() };
    };
    const cats = boxes('VOCABULARY_CATEGORIES', 'categories', v.categories);
    const access = boxes('VOCABULARY_ACCESSIBILITY', 'accessibility', v.accessibility);

    // Where: address, postcode (which can place the pin), country, the pin.
    const loc = v.location;
    const address = field(t('group.f.address'), h('input', { type: 'text', value: loc.address, autocomplete: 'street-address' }), "asset.location.address");
    const postcode = field(t('group.f.postcode'), h('input', { type: 'text', value: loc.postcode, autocomplete: 'postal-code' }), "asset.location.postcode");
    const locality = field(t('group.f.locality'), h('input', { type: 'text', value: loc.locality }), "asset.location.locality");
    const country = field(t('group.f.country'), h('select', {}, h('option', { value: 'GB' }, t('group.country.gb')), h('option', { value: 'NL' }, t('group.country.nl'))), "asset.location.country");
    country.input.value = loc.country;
    const lat = field(t('group.f.latitude'), h('input', { type: 'number', step: 'any', value: loc.latitude || '' }), "asset.location.latitude");
    const lng = field(t('group.f.longitude'), h('input', { type: 'number', step: 'any', value: loc.longitude || '' }), "asset.location.longitude");
    const pinStatus = h('p', { role: 'status', 'aria-live': 'polite', class: 'hint', id: 'pin-status' });
    const fromPostcode = h('button', { type: 'button', id: 'pin-postcode' }, t('group.pin.fromPostcode'));
    const mapEl = h('div', { class: 'map group-map', id: 'pin-map', role: 'region', 'aria-label': t('group.pin.map') });
    let movePin: (lng: number, lat: number) => void = () => {};
    const setPin = (la: number, ln: number) => {
      lat.input.value = la.toFixed(6);
      lng.input.value = ln.toFixed(6);
      pinStatus.textContent = t('group.pin.placed', { lat: la.toFixed(5), lng: ln.toFixed(5) });
      movePin(ln, la);
    };
    fromPostcode.addEventListener('click', async () => {
      const pc = postcode.input.value.trim();
      clearErrors(postcode.wrap);
      try {
        const p = await call<{ latitude: number; longitude: number }>('GET', '/v1/postcodes/' + encodeURIComponent(pc));
        if (/^\d{4}/.test(pc)) country.input.value = 'NL';
        setPin(p.latitude, p.longitude);
      } catch {
        showError(this.form, new ApiError(400, LOCAL, '', [{ field: "asset.location.postcode", description: t('group.err.postcode') }]));
      }
    });

    // How people take part; a remote service has no pin but the area it serves.
    const delivery = deliveryFields(v);
    const pinPart = h('div', { id: 'pin-part', hidden: isRemote(v) },
      h('p', { class: 'hint' }, t('group.pin.hint')),
      h('p', {}, fromPostcode), pinStatus, mapEl,
      h('div', { class: 'row' }, lat.wrap, lng.wrap));
    delivery.onChange((remote) => { pinPart.hidden = remote; if (!remote) this.resizeMap?.(); });

    const save = h('button', { type: 'submit', class: 'primary', id: 'save' }, t('group.save'));
    const b = base;
    this.form = h('form', { class: 'group-edit', novalidate: true },
      formAlert(),
      name.wrap, desc.wrap,
      h('fieldset', {}, h('legend', {}, t('group.f.sessions')), h('p', { class: 'hint' }, t('group.sessions.hint')), sessionsBox, addSession),
      h('fieldset', {}, h('legend', {}, t('group.f.cost')), h('div', { class: 'row' }, costKind.wrap, costNote.wrap)),
      h('fieldset', {}, h('legend', {}, t('group.f.places')), capacity.wrap,
        h('div', { class: 'check' }, accepting, h('label', { for: accepting.id }, t('group.f.accepting')))),
      delivery.wrap,
      h('fieldset', {}, h('legend', {}, t('group.f.location')),
        h('div', { class: 'row' }, address.wrap, postcode.wrap, locality.wrap, country.wrap),
        pinPart),
      cats.fs, access.fs,
      h('p', { class: 'row' }, save, h('a', { href: '#/group' }, t('group.back'))));

    this.read = () => ({
      display_name: name.input.value.trim(),
      description: desc.input.value.trim(),
      categories: cats.read(),
      sessions: rows.map((r) => r()),
      cost: { kind: costKind.input.value, note: costNote.input.value.trim() },
      accessibility: access.read(),
      capacity: capacity.input.value.trim(),
      accepting_referrals: accepting.checked,
      location: {
        // A remote service has no point: the API wants 0, 0.
        latitude: delivery.remote() ? 0 : Number(lat.input.value) || 0, longitude: delivery.remote() ? 0 : Number(lng.input.value) || 0,
        address: address.input.value.trim(), postcode: postcode.input.value.trim(), locality: locality.input.value.trim(), country: country.input.value,
      },
      ...delivery.read(country.input.value),
    });
    this.form.addEventListener('submit', (e) => { e.preventDefault(); void this.save(); });

    const still = b ? h('button', { type: 'button', id: 'still-true' }, t('group.stillTrue')) : null;
    const verified = b ? h('span', { id: 'verified' }, verifiedText(b)) : null;
    still?.addEventListener('click', async () => {
      try {
        const now = await confirmStillTrue(this.base!);
        // Only the verification changed: the form keeps what is typed, on the new version.
        this.base = now;
        verified!.textContent = verifiedText(now);
        this.status.textContent = t('group.stillTrueDone', { name: now.display_name });
      } catch (err) {
        if (isConflict(err)) return this.onConflict(this.read());
        showError(this.form, err);
      }
    });
    fill(this.main,
      h('p', {}, h('a', { href: '#/group' }, t('group.back'))),
      h('h1', {}, b ? t('group.edit.titleNamed', { name: b.display_name }) : t('group.new.title')),
      b ? h('p', { class: 'meta' }, verified, ' ', still) : null,
      b ? this.lifecycle() : null,
      this.status, this.conflict, this.form);

    // The map is an aid: the numbers and the postcode do the same by keyboard.
    void loadMap().then((ml) => {
      if (!mapEl.isConnected) return;
      const centre: [number, number] = loc.longitude || loc.latitude ? [loc.longitude, loc.latitude] : loc.country === 'NL' ? [4.4777, 51.9244] : [-1.8904, 52.4862];
      const map = new ml.Map({
        container: mapEl, center: centre, zoom: 13, attributionControl: false,
        style: {
          version: 8,
          sources: { areas: { type: 'vector', tiles: [location.origin + '/tiles/coverage/{z}/{x}/{y}.mvt?kind=lsoa'], minzoom: 9, maxzoom: 14 } },
          layers: [
            { id: 'background', type: 'background', paint: { 'background-color': '#f4f1ea' } },
            { id: 'areas-line', type: 'line', source: 'areas', 'source-layer': 'coverage', paint: { 'line-color': '#8aa39a', 'line-width': 0.6 } },
          ],
        },
      });
      map.addControl(new ml.NavigationControl({ showCompass: false }));
      map.getCanvas().setAttribute('aria-label', t('group.pin.map'));
      const marker = new ml.Marker({ color: '#c0392b' });
      movePin = (ln, la) => { marker.setLngLat([ln, la]).addTo(map); map.easeTo({ center: [ln, la] }); };
      if (loc.longitude || loc.latitude) marker.setLngLat(centre).addTo(map);
      map.on('click', (e) => setPin(e.lngLat.lat, e.lngLat.lng));
      this.destroyMap = () => map.remove();
      this.resizeMap = () => map.resize();
    }).catch(() => { mapEl.hidden = true; });
  }

  private async save(sendAnyway?: Name[]) {
    clearErrors(this.form);
    const now = this.read();
    const was = fromListing(this.base);
    const keys = sendAnyway ?? changed(was, now);
    try {
      if (!this.base) {
        const made = await call<Listing>('POST', '/v1/assets', { kind: 'ASSET_KIND_ASSOCIATION', ...body(now, names) });
        this.status.textContent = t('group.saved');
        location.hash = '#/group/asset/' + idOf(made.name);
        return;
      }
      if (!keys.length) {
        this.status.textContent = t('group.nothingChanged');
        return;
      }
      const saved = await call<Listing>('PATCH', `/v1/${this.base.name}?update_mask=${maskOf(now, keys)}`, { name: this.base.name, etag: this.base.etag, ...body(now, keys) });
      this.conflict.hidden = true;
      this.show(saved, fromListing(saved));
      this.status.textContent = t('group.saved');
    } catch (err) {
      if (isConflict(err)) return this.onConflict(now);
      showError(this.form, translated(err, now));
    }
  }

  /**
   * Paused or closed: out of searches and no new referrals (the API
   * searches active listings only and refers only to them), said before
   * it is done. Like "still true", it sends only the status with the etag
   * read, so what is typed in the form stays.
   */
  private lifecycle(): HTMLElement {
    const box = h('section', { class: 'card lifecycle', id: 'lifecycle', 'aria-labelledby': 'lifecycle-h' });
    const draw = () => {
      const a = this.base!;
      const st = a.status === 'ASSET_STATUS_PAUSED' || a.status === 'ASSET_STATUS_CLOSED' ? a.status : 'ASSET_STATUS_ACTIVE';
      const to = (status: string, id: string, key: Key, confirm?: Key) => {
        const button = h('button', { type: 'button', id, class: confirm ? 'danger' : 'primary' }, t(key));
        const act = () => this.setStatus(status).then(() => { draw(); box.querySelector<HTMLElement>('#lifecycle-now')?.focus(); });
        button.addEventListener('click', () => void (confirm ? confirmThen(t(confirm, { name: a.display_name }), t(key), act) : act()));
        return button;
      };
      fill(box, h('h2', { id: 'lifecycle-h' }, t('group.life.title')),
        h('p', { id: 'lifecycle-now', tabindex: '-1' }, h('strong', {}, statusText(st)), ': ', t(({ ASSET_STATUS_PAUSED: 'group.life.pausedNow', ASSET_STATUS_CLOSED: 'group.life.closedNow' } as Record<string, Key>)[st] ?? 'group.life.activeNow')),
        h('p', { class: 'row' },
          st === 'ASSET_STATUS_ACTIVE' ? to('ASSET_STATUS_PAUSED', 'pause', 'group.life.pause', 'group.life.pauseConfirm') : null,
          st !== 'ASSET_STATUS_CLOSED' ? to('ASSET_STATUS_CLOSED', 'close', 'group.life.close', 'group.life.closeConfirm') : null,
          st !== 'ASSET_STATUS_ACTIVE' ? to('ASSET_STATUS_ACTIVE', 'reopen', 'group.life.reopen') : null));
    };
    draw();
    return box;
  }

  private async setStatus(status: string) {
    try {
      const now = await call<Listing>('PATCH', `/v1/${this.base!.name}?update_mask=status`, { name: this.base!.name, etag: this.base!.etag, status });
      this.base = now;
      this.status.textContent = t('group.life.done', { name: now.display_name, status: statusText(now.status) });
    } catch (err) {
      if (isConflict(err)) return this.onConflict(this.read());
      showError(this.form, err);
    }
  }

  /** Someone saved first: say what they changed, keep what was typed. */
  private async onConflict(mine: Values) {
    if (!this.base) return;
    let theirs: Listing;
    try {
      theirs = await call<Listing>('GET', '/v1/' + this.base.name);
    } catch (err) {
      return showError(this.form, err);
    }
    const was = fromListing(this.base), now = fromListing(theirs);
    const theyChanged = changed(was, now);
    const iChanged = changed(was, mine);
    const both = iChanged.filter((k) => theyChanged.includes(k));
    const apply = h('button', { type: 'button', class: 'primary', id: 'reapply' }, t('group.conflict.reapply'));
    const discard = h('button', { type: 'button', id: 'take-theirs' }, t('group.conflict.discard'));
    apply.addEventListener('click', () => {
      // Their version with my fields on top; the form then saves only what differs from theirs.
      const merged = { ...now };
      for (const k of iChanged) (merged as Record<Name, unknown>)[k] = mine[k];
      this.show(theirs, merged);
      this.showConflictNote(t('group.conflict.reapplied'));
      this.form.querySelector<HTMLElement>('#save')?.focus();
    });
    discard.addEventListener('click', () => {
      this.show(theirs, now);
      this.showConflictNote(t('group.conflict.discarded'));
    });
    fill(this.conflict,
      h('h2', { id: 'conflict-h' }, t('group.conflict.title')),
      h('p', {}, t('group.conflict.kept')),
      theyChanged.length
        ? h('dl', { class: 'facts', id: 'conflict-changes' }, theyChanged.map((k) => [h('dt', {}, t(fieldLabel[k])), h('dd', {}, this.summary(now, k))]))
        : h('p', {}, t('group.conflict.onlyVerified')),
      both.length ? h('p', { class: 'field-error' }, t('group.conflict.both', { fields: both.map((k) => t(fieldLabel[k])).join(', ') })) : null,
      h('p', { class: 'row' }, apply, discard));
    this.conflict.hidden = false;
    this.conflict.focus();
  }

  private showConflictNote(text: string) {
    fill(this.conflict, h('p', { id: 'conflict-note' }, text));
    this.conflict.hidden = false;
    this.conflict.focus();
  }

  /** A field's value as people read it. */
  private summary(v: Values, k: Name): string {
    const labels = (codes: string[]) => codes.map((c) => label(this.terms.get(c), c)).join(', ') || t('asset.none');
    switch (k) {
      case 'sessions': return v.sessions.map((s) => `${sessionLine(s)} (${zoneName(s.timezone)})`).join('; ') || t('asset.noSessions');
      case 'categories': case 'accessibility': return labels(v[k]);
      case 'cost': return ({ COST_KIND_FREE: t('cost.free'), COST_KIND_LOW_COST: t('cost.low'), COST_KIND_PAID: t('cost.paid') } as Record<string, string>)[v.cost.kind] + (v.cost.note ? ` (${v.cost.note})` : '');
      case 'capacity': return v.capacity || t('group.capacity.none');
      case 'accepting_referrals': return v.accepting_referrals ? t('asset.accepting') : t('asset.notAccepting');
      case 'delivery_mode': return t(deliveryModes.find(([m]) => m === v.delivery_mode)?.[1] ?? 'group.delivery.inPerson');
      case 'service_area': return v.service_area.drawn ? t('group.area.drawn') : v.service_area.country ? t('group.area.country') : v.service_area.area_codes.join(', ') || t('asset.none');
      case 'location': return [v.location.address, v.location.postcode, v.location.locality].filter(Boolean).join(', ') + ` (${v.location.latitude.toFixed(5)}, ${v.location.longitude.toFixed(5)})`;
      default: return String(v[k]);
    }
  }
}

/** One session's fields; change(remove) re-renders the list. */
function sessionRow(s: SessionValues, i: number, count: number, change: (remove: boolean) => void, rows: (() => SessionValues)[]): HTMLElement {
  const f = (n: string) => `asset.sessions[${i}].${n}`;
  const day = field(t('group.s.day'), h('select', {}, weekdays.map((d) => h('option', { value: d }, weekday(d)))), f('day'));
  day.input.value = s.day;
  const start = field(t('group.s.start'), h('input', { type: 'time', value: s.start_time, required: true }), f('start_time'));
  const end = field(t('group.s.end'), h('input', { type: 'time', value: s.end_time, required: true }), f('end_time'));
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = [...new Set([s.timezone, 'Europe/London', 'Europe/Amsterdam', here].filter(Boolean))];
  const zone = field(t('group.s.zone'), h('select', {}, zones.map((z) => h('option', { value: z }, `${zoneName(z)} (${z})`))), f('timezone'));
  zone.input.value = s.timezone;
  const from = field(t('group.s.from'), h('input', { type: 'date', value: s.valid_from }), f('valid_from'));
  const until = field(t('group.s.until'), h('input', { type: 'date', value: s.valid_until }), f('valid_until'));
  const remove = h('button', { type: 'button', class: 'remove-session', 'aria-label': t('group.sessions.removeN', { n: i + 1 }) }, t('group.sessions.remove'));
  remove.addEventListener('click', () => change(true));
  rows[i] = () => ({ day: day.input.value, start_time: start.input.value, end_time: end.input.value, timezone: zone.input.value, valid_from: from.input.value, valid_until: until.input.value });
  return h('fieldset', { class: 'session' }, h('legend', {}, t('group.sessions.n', { n: i + 1, count })),
    h('div', { class: 'row' }, day.wrap, start.wrap, end.wrap, zone.wrap),
    h('div', { class: 'row' }, from.wrap, until.wrap, remove));
}

/**
 * How people take part and, for a remote service, where: the whole country
 * or council or LSOA codes (a drawn area, which the API also takes, is kept
 * when the listing has one; drawing is not offered here).
 */
function deliveryFields(v: Values) {
  const mode = field(t('group.f.deliveryMode'), h('select', {}, deliveryModes.map(([m, k]) => h('option', { value: m }, t(k)))), 'asset.delivery_mode', t('group.delivery.hint'));
  mode.input.value = v.delivery_mode;
  const sa = v.service_area;
  const radio = (value: string, key: Key, checked: boolean) => {
    const input = h('input', { type: 'radio', name: 'area-kind', value, id: 'area-' + value, checked });
    return { input, wrap: h('div', { class: 'check' }, input, h('label', { for: input.id }, t(key))) };
  };
  const country = radio('country', 'group.area.country', !!sa.country);
  const codes = radio('codes', 'group.area.codes', !sa.country && !sa.drawn);
  const drawn = sa.drawn ? radio('drawn', 'group.area.drawn', !sa.country && !sa.area_codes.length) : null;
  const list = field(t('group.area.codesLabel'), h('input', { type: 'text', value: sa.area_codes.join(', '), autocomplete: 'off', spellcheck: 'false' }), 'asset.service_area.area_codes', t('group.area.codesHint'));
  const areaId = uid('area');
  const area = h('fieldset', { id: areaId, 'data-field': 'asset.service_area', tabindex: '-1', 'aria-describedby': areaId + '-error', hidden: v.delivery_mode === IN_PERSON },
    h('legend', {}, t('group.f.serviceArea')), h('p', { class: 'hint' }, t('group.area.hint')),
    country.wrap, codes.wrap, list.wrap, drawn?.wrap,
    h('p', { class: 'field-error', id: areaId + '-error', hidden: true }));
  const remote = () => mode.input.value !== IN_PERSON;
  const listeners: ((remote: boolean) => void)[] = [];
  mode.input.addEventListener('change', () => { area.hidden = !remote(); listeners.forEach((f) => f(remote())); });
  // Typing codes chooses "these areas".
  list.input.addEventListener('input', () => { codes.input.checked = true; });
  return {
    wrap: h('fieldset', {}, h('legend', {}, t('group.f.delivery')), mode.wrap, area),
    remote,
    onChange: (f: (remote: boolean) => void) => void listeners.push(f),
    read: (countryCode: string): Pick<Values, 'delivery_mode' | 'service_area'> => {
      if (!remote()) return { delivery_mode: mode.input.value, service_area: { area_codes: [], country: '', drawn: sa.drawn } };
      if (drawn?.input.checked) return { delivery_mode: mode.input.value, service_area: { area_codes: [], country: '', drawn: true } };
      if (country.input.checked) return { delivery_mode: mode.input.value, service_area: { area_codes: [], country: countryCode, drawn: false } };
      const parsed = list.input.value.split(/[\s,;]+/).map((c) => c.trim().toUpperCase()).filter(Boolean);
      return { delivery_mode: mode.input.value, service_area: { area_codes: parsed, country: '', drawn: false } };
    },
  };
}
