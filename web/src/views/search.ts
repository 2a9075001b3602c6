// The link worker's search: a postcode, a radius and filters; the results
// as a list and on the map, in step (choosing a point on the map moves to
// its entry in the list). A filter change searches again at once; the
// postcode is searched on submit. The last search is kept for the tab, so
// coming back from an asset shows it again.
import { call, query, ApiError } from '../api';
import { h, fill } from '../dom';
import { field, formAlert, showError, clearErrors } from '../forms';
import { t, label } from '../i18n';
import { distance } from '../format';
import { vocabulary } from '../vocab';
import { resultsMap, type ResultsMap } from '../map';
import type { Postcode, SearchResult } from '../types';
import { idOf } from '../types';

interface State {
  postcode: string;
  radius: string;
  categories: string[];
  free: boolean;
  openNow: boolean;
  accepting: boolean;
}
const state: State = { postcode: '', radius: '2000', categories: [], free: false, openNow: false, accepting: false };

export async function searchView(main: HTMLElement) {
  const terms = await vocabulary().catch(() => new Map());
  const categories = [...terms.values()].filter((x) => x.vocabulary === 'VOCABULARY_CATEGORIES');

  const postcode = field(t('search.postcode'), h('input', { type: 'text', autocomplete: 'postal-code', value: state.postcode, required: true }), 'postcode', t('search.postcodeHint'));
  const radius = field(t('search.radius'), h('select', {}, ...['1000', '2000', '5000', '10000'].map((m) => h('option', { value: m }, distance(Number(m))))), 'radius_meters');
  radius.input.value = state.radius;
  const check = (id: string, text: string, checked: boolean) => {
    const box = h('input', { type: 'checkbox', id, checked });
    return { box, el: h('div', { class: 'check' }, box, h('label', { for: id }, text)) };
  };
  const free = check('f-free', t('search.free'), state.free);
  const open = check('f-open', t('search.openNow'), state.openNow);
  const accepting = check('f-accepting', t('search.accepting'), state.accepting);
  const cats = categories.map((c) => {
    const box = h('input', { type: 'checkbox', id: 'cat-' + c.code, value: c.code, checked: state.categories.includes(c.code) });
    return { box, el: h('div', { class: 'check' }, box, h('label', { for: 'cat-' + c.code }, label(c, c.code))) };
  });
  const filters = h('fieldset', { class: 'filters' }, h('legend', {}, t('search.filters')),
    free.el, open.el, accepting.el,
    h('details', { open: state.categories.length > 0 }, h('summary', {}, t('search.categories')),
      h('div', { class: 'cats', 'data-field': 'categories' }, cats.map((c) => c.el))));
  const form = h('form', { class: 'search', novalidate: true, role: 'search' },
    formAlert(), h('div', { class: 'row' }, postcode.wrap, radius.wrap, h('button', { type: 'submit', class: 'primary' }, t('search.submit'))), filters);

  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const list = h('ol', { class: 'results', id: 'results', 'data-seq': '0' });
  const mapEl = h('div', { class: 'map', id: 'map' });
  fill(main, h('h1', {}, t('search.title')), form,
    h('div', { class: 'split' }, h('section', { 'aria-labelledby': 'results-h' }, h('h2', { id: 'results-h' }, t('search.results')), status, list),
      h('section', { class: 'map-wrap', 'aria-label': t('map.label') }, mapEl)));

  let map: ResultsMap | undefined;
  let alive = true;
  const mapReady = resultsMap(mapEl, (id) => {
    const item = document.getElementById('r-' + id);
    item?.querySelector('a')?.focus();
    item?.scrollIntoView({ block: 'nearest' });
  }).then((m) => {
    if (!alive) m.destroy();
    else map = m;
    return m;
  }).catch(() => undefined); // no WebGL: the list alone

  // The postcode's place, asked once per postcode: a filter change is one call.
  let lastPlace: { postcode: string; place: Promise<Postcode> } | undefined;
  const placeOf = (pc: string) => {
    if (lastPlace?.postcode !== pc) {
      lastPlace = { postcode: pc, place: call<Postcode>('GET', '/v1/postcodes/' + encodeURIComponent(pc)) };
      lastPlace.place.catch(() => (lastPlace = undefined));
    }
    return lastPlace.place;
  };

  let seq = 0;
  async function search() {
    state.postcode = postcode.input.value.trim();
    state.radius = radius.input.value;
    state.free = free.box.checked;
    state.openNow = open.box.checked;
    state.accepting = accepting.box.checked;
    state.categories = cats.filter((c) => c.box.checked).map((c) => c.box.value);
    if (!state.postcode) return;
    const mine = ++seq;
    clearErrors(form);
    status.textContent = t('search.searching');
    try {
      const [place, res] = await Promise.all([
        placeOf(state.postcode),
        call<{ results: SearchResult[] }>('GET', '/v1/assets:search' + query({
          postcode: state.postcode, radius_meters: state.radius, categories: state.categories, free_only: state.free,
          open_at: state.openNow ? 'now' : undefined, accepting_referrals: state.accepting || undefined, page_size: 50,
        })),
      ]);
      if (mine !== seq || !alive) return;
      renderResults(place, res.results ?? []);
    } catch (err) {
      if (mine !== seq || !alive) return;
      status.textContent = '';
      fill(list);
      if (err instanceof ApiError) showError(form, err);
      else status.textContent = t('error.generic');
    }
  }

  function renderResults(place: Postcode, results: SearchResult[]) {
    status.textContent = (results.length ? t('search.found', { count: results.length, postcode: place.postcode }) : t('search.none', { postcode: place.postcode })) +
      (place.approximate ? ' ' + t('search.approximate') : '');
    fill(list, results.map((r) => {
      const a = r.asset, id = idOf(a.name);
      const cost = a.cost?.kind === 'COST_KIND_FREE' ? t('cost.free') : a.cost?.kind === 'COST_KIND_LOW_COST' ? t('cost.low') : a.cost?.kind === 'COST_KIND_PAID' ? t('cost.paid') : '';
      return h('li', { id: 'r-' + id },
        h('a', { href: '#/asset/' + id }, a.display_name),
        h('p', { class: 'meta' }, [distance(r.distance_meters), a.location.locality, cost].filter(Boolean).join(' · ')),
        h('p', { class: 'tags' }, a.categories.map((c) => label(terms.get(c), c)).join(', ')),
        a.places_left !== undefined && a.places_left !== null ? h('p', { class: 'places' }, t('asset.placesLeft', { count: a.places_left })) : null,
        a.accepting_referrals ? null : h('p', { class: 'meta' }, t('asset.notAccepting')));
    }));
    list.dataset.seq = String(Number(list.dataset.seq) + 1);
    // The list first: the map redraws after the list has been painted,
    // so its (WebGL) work never holds the results back.
    const centre: [number, number] = [place.longitude, place.latitude];
    requestAnimationFrame(() => setTimeout(() => void mapReady.then((m) => alive && m?.show(results, centre))));
    document.dispatchEvent(new CustomEvent('sparc:results', { detail: results.length }));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!postcode.input.value.trim()) {
      const alert = form.querySelector<HTMLElement>('.form-error')!;
      alert.textContent = t('search.postcodeMissing');
      alert.hidden = false;
      postcode.input.focus();
      return;
    }
    void search();
  });
  filters.addEventListener('change', () => void search());
  radius.input.addEventListener('change', () => void search());
  if (state.postcode) void search();
  else postcode.input.focus();
  return () => {
    alive = false;
    map?.destroy();
  };
}
