// The link worker's search: from a postcode, a place SPARC knows (a
// council, neighbourhood or small area, found by name), a point chosen on
// the map or the map's centre; a radius and filters; the results as a
// list and on the map, in step (choosing a point on the map moves to its
// entry in the list). Remote services (telephone, online, home visits)
// follow the in-person ones, marked, with the area they cover and no pin.
// A filter change searches again at once. The last search is kept for the
// tab, so coming back from an asset shows it again.
import { call, query, ApiError } from '../api';
import { h, fill } from '../dom';
import { field, formAlert, showError, clearErrors, LOCAL } from '../forms';
import { t, label, locale, type Key } from '../i18n';
import { distance, shortWhen } from '../format';
import { vocabulary } from '../vocab';
import { resultsMap, type ResultsMap } from '../map';
import { coverText, deliveryText } from '../remote';
import type { Area, Asset, Postcode, SearchResult, Term } from '../types';
import { idOf } from '../types';

/** Where a search starts: a postcode (its place asked once), or a known point. */
type Origin = { postcode: string } | { label: string; lat: number; lng: number; area?: string };

interface State {
  origin?: Origin;
  radius: string;
  categories: string[];
  accessibility: string[];
  free: boolean;
  open: '' | 'now' | 'at';
  when: string; // datetime-local, the user's own time
  age: string;
  language: string;
  remote: '' | 'REMOTE_FILTER_ONLY' | 'REMOTE_FILTER_EXCLUDE';
  accepting: boolean;
}
const state: State = { radius: '2000', categories: [], accessibility: [], free: false, open: '', when: '', age: '', language: '', remote: '', accepting: false };

// Languages offered (ISO 639-1): those of the two countries and their
// larger communities; named by the browser in the user's language.
const languages = ['en', 'nl', 'cy', 'ar', 'bn', 'zh', 'fr', 'de', 'gu', 'hi', 'it', 'ku', 'lt', 'fa', 'pl', 'pt', 'pa', 'ro', 'ru', 'so', 'es', 'ta', 'ti', 'tr', 'uk', 'ur'];

const placeKinds: Record<string, Key> = {
  local_authority: 'search.kind.council', gemeente: 'search.kind.council', msoa: 'search.kind.msoa', wijk: 'search.kind.wijk',
  ward: 'search.kind.ward', lsoa: 'search.kind.lsoa', buurt: 'search.kind.buurt',
};

const check = (id: string, text: string, checked: boolean, value = '') => {
  const box = h('input', { type: 'checkbox', id, checked, value });
  return { box, el: h('div', { class: 'check' }, box, h('label', { for: id }, text)) };
};

const select = (id: string, text: string, apiField: string, options: [string, string][], value: string) => {
  const f = field(text, h('select', { id }, options.map(([v, l]) => h('option', { value: v }, l))), apiField);
  f.input.value = value;
  return f;
};

/** A group of checkboxes for vocabulary terms, folded in a details. */
function termBoxes(prefix: string, title: string, apiField: string, terms: Term[], chosen: string[]) {
  const boxes = terms.map((c) => check(prefix + c.code, label(c, c.code), chosen.includes(c.code), c.code));
  const el = h('details', { open: chosen.length > 0 }, h('summary', {}, title),
    h('div', { class: 'cats', 'data-field': apiField }, boxes.map((c) => c.el)));
  return { el, chosen: () => boxes.filter((c) => c.box.checked).map((c) => c.box.value) };
}

/** The filters: every one the search API offers a link worker. */
function filterFields(terms: Map<string, Term>) {
  const names = new Intl.DisplayNames([locale()], { type: 'language' });
  const free = check('f-free', t('search.free'), state.free);
  const accepting = check('f-accepting', t('search.accepting'), state.accepting);
  const open = select('f-open', t('search.open'), 'open_at', [['', t('search.openAny')], ['now', t('search.openNow')], ['at', t('search.openAt')]], state.open);
  const when = field(t('search.when'), h('input', { type: 'datetime-local', id: 'f-when', value: state.when }), 'open_at', t('search.whenHint'));
  when.wrap.hidden = state.open !== 'at';
  const age = field(t('search.age'), h('input', { type: 'number', id: 'f-age', min: 0, max: 120, step: 1, inputmode: 'numeric', value: state.age }), 'age', t('search.ageHint'));
  const language = select('f-language', t('search.language'), 'language',
    [['', t('search.languageAny')], ...languages.map((l): [string, string] => [l, names.of(l) ?? l]).sort((a, b) => a[1].localeCompare(b[1], locale()))], state.language);
  const remote = select('f-remote', t('search.remote'), 'remote',
    [['', t('search.remoteInclude')], ['REMOTE_FILTER_ONLY', t('search.remoteOnly')], ['REMOTE_FILTER_EXCLUDE', t('search.remoteExclude')]], state.remote);
  const byList = (v: string) => [...terms.values()].filter((x) => x.vocabulary === v);
  const cats = termBoxes('cat-', t('search.categories'), 'categories', byList('VOCABULARY_CATEGORIES'), state.categories);
  const access = termBoxes('acc-', t('search.accessibility'), 'accessibility', byList('VOCABULARY_ACCESSIBILITY'), state.accessibility);
  open.input.addEventListener('change', () => (when.wrap.hidden = open.input.value !== 'at'));
  const el = h('fieldset', { class: 'filters' }, h('legend', {}, t('search.filters')),
    h('div', { class: 'checks' }, free.el, accepting.el), open.wrap, when.wrap, age.wrap, language.wrap, remote.wrap, cats.el, access.el);
  const read = () => {
    Object.assign(state, {
      free: free.box.checked, accepting: accepting.box.checked, open: open.input.value, when: when.input.value,
      age: age.input.value.trim(), language: language.input.value, remote: remote.input.value,
      categories: cats.chosen(), accessibility: access.chosen(),
    });
  };
  return { el, read };
}

/**
 * The search parameters of the filters (state), beyond where. The list
 * and the map show only what the BASIC view carries (name, distance,
 * locality, cost kind, categories, places left, referrals, delivery,
 * covered area and next session): the asset's page reads the rest.
 */
function filterQuery() {
  const at = state.open === 'at' && state.when ? new Date(state.when) : undefined;
  return {
    view: 'ASSET_VIEW_BASIC',
    radius_meters: state.radius, categories: state.categories, accessibility: state.accessibility, free_only: state.free,
    open_at: state.open === 'now' || (state.open === 'at' && !at) ? 'now' : at && !isNaN(at.getTime()) ? at.toISOString() : undefined,
    age: state.age || undefined, language: state.language || undefined, remote: state.remote || undefined,
    accepting_referrals: state.accepting || undefined, page_size: 50,
  };
}

// The postcode's place, asked once per postcode: a filter change is one call.
let lastPlace: { postcode: string; place: Promise<Postcode> } | undefined;
const placeOf = (pc: string) => {
  if (lastPlace?.postcode !== pc) {
    lastPlace = { postcode: pc, place: call<Postcode>('GET', '/v1/postcodes/' + encodeURIComponent(pc)) };
    lastPlace.place.catch(() => (lastPlace = undefined));
  }
  return lastPlace.place;
};
/** Where the search starts: a label for the status, the point, whether approximate. */
const where = async (o: Origin) => {
  if (!('postcode' in o)) return { ...o, approximate: false };
  const p = await placeOf(o.postcode);
  return { label: p.postcode, lng: p.longitude, lat: p.latitude, approximate: p.approximate };
};
const params = (o: Origin) => ('postcode' in o ? { postcode: o.postcode } : { latitude: o.lat.toFixed(6), longitude: o.lng.toFixed(6) });

export async function searchView(main: HTMLElement) {
  const terms = await vocabulary().catch(() => new Map<string, Term>());
  const pc = state.origin && 'postcode' in state.origin ? state.origin.postcode : '';
  const postcode = field(t('search.postcode'), h('input', { type: 'text', autocomplete: 'postal-code', value: pc }), 'postcode', t('search.postcodeHint'));
  const radius = select('f-radius', t('search.radius'), 'radius_meters', ['1000', '2000', '5000', '10000'].map((m) => [m, distance(Number(m))]), state.radius);
  const place = placeFinder(state.origin && 'area' in state.origin ? state.origin.label : '',
    (a) => from({ label: a.display_name, lat: a.reference_latitude, lng: a.reference_longitude, area: a.code }));
  const filters = filterFields(terms);
  const form = h('form', { class: 'search', novalidate: true, role: 'search' }, formAlert(),
    h('div', { class: 'row' }, postcode.wrap, radius.wrap, h('button', { type: 'submit', class: 'primary' }, t('search.submit'))),
    place.el, filters.el);

  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const list = h('ol', { class: 'results', id: 'results', 'data-seq': '0' });
  const mapEl = h('div', { class: 'map', id: 'map' });
  const here = h('button', { type: 'button', id: 'search-here' }, t('search.here'));
  fill(main, h('h1', {}, t('search.title')), form,
    h('div', { class: 'split' }, h('section', { 'aria-labelledby': 'results-h' }, h('h2', { id: 'results-h' }, t('search.results')), status, list),
      h('section', { class: 'map-wrap', 'aria-label': t('map.label') }, mapEl, h('p', { class: 'map-actions' }, here, h('span', { class: 'hint' }, t('search.hereHint'))), h('p', { class: 'hint' }, t('map.areaNames')))));

  let map: ResultsMap | undefined;
  let alive = true;
  const mapReady = resultsMap(mapEl, (id) => {
    const item = document.getElementById('r-' + id);
    item?.querySelector('a')?.focus();
    item?.scrollIntoView({ block: 'nearest' });
  }, ([lng, lat]) => from({ label: t('search.mapPoint'), lat, lng })).then((m) => {
    if (!alive) m.destroy();
    else map = m;
    return m;
  }).catch(() => {
    here.hidden = true; // no WebGL: no map to search from
    return undefined;
  });

  let seq = 0;
  async function search() {
    state.radius = radius.input.value;
    filters.read();
    // A postcode in its box is where the search starts (a place or a
    // point chosen empties the box).
    const pc = postcode.input.value.trim();
    if (pc) state.origin = { postcode: pc };
    if (!state.origin) return;
    const mine = ++seq;
    clearErrors(form);
    status.textContent = t('search.searching');
    try {
      const origin = state.origin;
      const [at, res] = await Promise.all([
        where(origin),
        call<{ results?: SearchResult[] }>('GET', '/v1/assets:search' + query({ ...params(origin), ...filterQuery() })),
      ]);
      if (mine !== seq || !alive) return;
      renderResults(at, res.results ?? []);
    } catch (err) {
      if (mine !== seq || !alive) return;
      status.textContent = '';
      fill(list);
      if (err instanceof ApiError) showError(form, err);
      else status.textContent = t('error.generic');
    }
  }

  function renderResults(at: { label: string; lng: number; lat: number; approximate: boolean }, results: SearchResult[]) {
    status.textContent = (results.length ? t('search.found', { count: results.length, postcode: at.label }) : t('search.none', { postcode: at.label })) +
      (at.approximate ? ' ' + t('search.approximate') : '');
    fill(list, results.map((r) => resultItem(r, terms)));
    list.dataset.seq = String(Number(list.dataset.seq) + 1);
    // The list first: the map redraws after the list has been painted,
    // so its (WebGL) work never holds the results back. Remote services
    // have no point: they are not drawn.
    const centre: [number, number] = [at.lng, at.lat];
    const onMap = results.filter((r) => !r.remote);
    const tag = list.dataset.seq;
    requestAnimationFrame(() => setTimeout(() => void mapReady.then((m) => alive && m?.show(onMap, centre, tag))));
    document.dispatchEvent(new CustomEvent('sparc:results', { detail: results.length }));
  }

  /** Searches from o (a place chosen, the map). */
  function from(o: Origin) {
    state.origin = o;
    postcode.input.value = '';
    if (!('area' in o)) place.clear();
    void search();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const pc = postcode.input.value.trim();
    if (!pc) {
      const alert = form.querySelector<HTMLElement>('.form-error')!;
      alert.textContent = t('search.postcodeMissing');
      alert.hidden = false;
      postcode.input.focus();
      return;
    }
    place.clear();
    void search();
  });
  here.addEventListener('click', () => {
    const c = map?.centre();
    if (c) from({ label: t('search.mapCentre'), lng: c[0], lat: c[1] });
  });
  filters.el.addEventListener('change', () => void search());
  radius.input.addEventListener('change', () => void search());
  if (state.origin) void search();
  else postcode.input.focus();
  return () => {
    alive = false;
    map?.destroy();
  };
}

/**
 * The place box: "Find place" (or Enter in the box) lists the places named
 * so, one call, the shortest names first (a council before its
 * neighbourhoods), with their kind; focus moves to the first; choosing one
 * calls onChoose. The API's refusal lands next to the box.
 */
function placeFinder(initial: string, onChoose: (a: Area) => void) {
  const place = field(t('search.place'), h('input', { type: 'text', id: 'place', autocomplete: 'off', value: initial }), 'display_name_prefix', t('search.placeHint'));
  const button = h('button', { type: 'button', id: 'find-place' }, t('search.findPlace'));
  const places = h('ul', { class: 'places-found', id: 'places', hidden: true });
  const choose = (a: Area) => {
    place.input.value = a.display_name;
    fill(places);
    places.hidden = true;
    onChoose(a);
    place.input.focus();
  };
  const kind = (a: Area) => ' · ' + (placeKinds[a.kind] ? t(placeKinds[a.kind]) : a.kind);
  async function find() {
    const name = place.input.value.trim(), form = place.wrap.closest('form')!;
    clearErrors(form);
    try {
      // Empty, the list call would list every area: said here, as the API says one letter.
      if (!name) throw new ApiError(400, LOCAL, '', [{ field: 'display_name_prefix', description: t('error.field.namePrefix') }]);
      const found = (await call<{ areas?: Area[] }>('GET', '/v1/areas' + query({ display_name_prefix: name, page_size: 8 }))).areas ?? [];
      places.hidden = false;
      fill(places, found.length
        ? found.map((a) => h('li', {}, h('button', { type: 'button', class: 'link', 'data-code': a.code, onclick: () => choose(a) },
          a.display_name, h('span', { class: 'meta' }, kind(a)))))
        : h('li', { class: 'meta' }, t('search.noPlace', { name })));
      places.querySelector<HTMLElement>('button')?.focus();
    } catch (err) {
      places.hidden = true;
      showError(form, err);
    }
  }
  button.addEventListener('click', () => void find());
  place.input.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key !== 'Enter') return;
    e.preventDefault(); // not the postcode search
    void find();
  });
  return { el: [h('div', { class: 'row' }, place.wrap, button), places], clear: () => (place.input.value = '') };
}

/** One result: a link to the asset, distance or how a remote service works and what it covers. */
function resultItem(r: SearchResult, terms: Map<string, Term>) {
  const a = r.asset, id = idOf(a.name);
  const cost = a.cost?.kind === 'COST_KIND_FREE' ? t('cost.free') : a.cost?.kind === 'COST_KIND_LOW_COST' ? t('cost.low') : a.cost?.kind === 'COST_KIND_PAID' ? t('cost.paid') : '';
  const covers = h('span', { class: 'covers' });
  if (r.remote) void coverText(a).then((s) => (covers.textContent = s));
  return h('li', { id: 'r-' + id, class: r.remote ? 'remote' : undefined },
    h('a', { href: '#/asset/' + id }, a.display_name),
    r.remote
      ? h('p', { class: 'meta' }, h('strong', { class: 'badge' }, t('search.remoteBadge')), ' ' + [deliveryText(a), cost].filter(Boolean).join(' · ') + ' · ', covers)
      : h('p', { class: 'meta' }, [distance(r.distance_meters), a.location.locality, cost].filter(Boolean).join(' · ')),
    h('p', { class: 'tags' }, a.categories.map((c) => label(terms.get(c), c)).join(', ')),
    a.next_session_time ? h('p', { class: 'next' }, t('search.next', { when: shortWhen(a.next_session_time, zoneOf(a)) })) : null,
    a.places_left !== undefined && a.places_left !== null ? h('p', { class: 'places' }, t('asset.placesLeft', { count: a.places_left })) : null,
    a.accepting_referrals ? null : h('p', { class: 'meta' }, t('asset.notAccepting')));
}

/**
 * The zone an asset's next session is shown in: its sessions' own, when
 * the result carries them (the FULL view) and they agree on one. The list
 * asks for the BASIC view, which carries next_session_time but not the
 * sessions, so the start is then shown in the browser's zone: the same
 * instant, and the same clock time for a link worker searching near where
 * they work (each of SPARC's countries is one zone). Asking each asset
 * for its zone would be a call per result, the cost BASIC is there to save.
 */
function zoneOf(a: Asset): string | undefined {
  const zones = new Set((a.sessions ?? []).map((s) => s.timezone).filter(Boolean));
  return zones.size === 1 ? [...zones][0] : undefined;
}
