// The council officer's coverage map: choose an area kind, a category and
// a measure; the areas in the map view are drawn by that measure (the
// coverage API's per-area figures), listed in a table (each area a button:
// the keyboard way to the same drill-down as a click on the map), grouped
// by deprivation decile in an SVG chart with a table for screen readers,
// and downloadable as CSV or GeoJSON with the very same parameters. One
// area's figures per category come from one call per category on a tiny
// box inside that area (its reference point), so every figure is the
// API's own.
import { call, query, ApiError } from '../api';
import { h, fill } from '../dom';
import { apiMessage } from '../forms';
import { t, label, type Key } from '../i18n';
import { vocabulary } from '../vocab';
import { coverageMap, palette, noValue, type CoverageMap } from './officer-map';
import { measures, coverageQuery, classify, classOf, num, show, type Measure, type AreaCoverage, type CoverageResponse } from './officer-data';
import { equityChart } from './officer-equity';

interface State { kind: string; category: string; measure: Measure; deprivation: boolean; council: string; selected?: string }
const state: State = { kind: 'lsoa', category: '', measure: 'walk', deprivation: false, council: '' };

const kindLabels: Record<string, Key> = { lsoa: 'officer.kind.lsoa', msoa: 'officer.kind.msoa', local_authority: 'officer.kind.council' };

/** A legend's colour sample, styled through the CSSOM (the CSP refuses style attributes). */
function swatch(colour: string) {
  const s = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  s.style.background = colour;
  return s;
}

export async function officerView(main: HTMLElement) {
  const terms = await vocabulary().catch(() => new Map());
  const categories = [...terms.values()].filter((x) => x.vocabulary === 'VOCABULARY_CATEGORIES');
  // Councils are offered when the directory has any.
  const councilList = await call<{ areas?: { code: string; display_name: string }[] }>('GET', '/v1/areas' + query({ kind: 'local_authority', page_size: 100 }))
    .then((r) => (r.areas ?? []).sort((a, b) => a.display_name.localeCompare(b.display_name)), () => []);
  const councils = councilList.length > 0;

  const select = (id: string, text: string, options: [string, string][], value: string) => {
    const s = h('select', { id }, options.map(([v, l]) => h('option', { value: v }, l)));
    s.value = value;
    return { s, el: h('div', { class: 'field' }, h('label', { for: id }, text), s) };
  };
  const kind = select('cov-kind', t('officer.kind'), Object.entries(kindLabels).filter(([k]) => k !== 'local_authority' || councils).map(([k, l]) => [k, t(l)]), state.kind);
  const category = select('cov-category', t('officer.category'),
    [['', t('officer.allCategories')], ...categories.map((c): [string, string] => [c.code, label(c, c.code)])], state.category);
  // One council's areas, wherever the map is (when the directory has councils).
  const council = select('cov-council', t('officer.council'),
    [['', t('officer.allCouncils')], ...councilList.map((c): [string, string] => [c.code, c.display_name])], state.council);
  const measure = select('cov-measure', t('officer.measure'), (Object.keys(measures) as Measure[]).map((m) => [m, t(measures[m].label)]), state.measure);
  const depBox = h('input', { type: 'checkbox', id: 'cov-deprivation', checked: state.deprivation });
  const form = h('form', { class: 'coverage-controls', novalidate: true, 'aria-label': t('officer.controls') },
    h('div', { class: 'row' }, kind.el, councils ? council.el : null, category.el, measure.el),
    h('div', { class: 'check' }, depBox, h('label', { for: 'cov-deprivation' }, t('officer.deprivation'))));

  const status = h('p', { class: 'status', id: 'cov-side-status', role: 'status', 'aria-live': 'polite' });
  const legend = h('div', { class: 'legend', id: 'cov-legend' });
  const downloads = h('p', { class: 'downloads' });
  const detail = h('section', { id: 'area-detail', 'aria-labelledby': 'area-h', hidden: true });
  const equity = h('section', { id: 'equity', 'aria-labelledby': 'equity-h' });
  const filter = h('input', { type: 'search', id: 'cov-filter', autocomplete: 'off' });
  const table = h('table', { id: 'cov-table', class: 'data', 'data-seq': '0' });
  const mapEl = h('div', { class: 'map', id: 'coverage-map' });
  fill(main, h('h1', {}, t('officer.title')), h('p', { class: 'lead' }, t('officer.intro')), form,
    h('div', { class: 'split' },
      h('div', { class: 'cov-side' }, status, downloads, detail,
        h('section', { 'aria-labelledby': 'areas-h' }, h('h2', { id: 'areas-h' }, t('officer.areas')),
          h('div', { class: 'field' }, h('label', { for: 'cov-filter' }, t('officer.filter')), filter),
          h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'areas-h' }, table)),
        equity),
      h('section', { class: 'map-wrap', 'aria-label': t('officer.mapLabel') }, legend, mapEl)));

  let map: CoverageMap | undefined;
  let alive = true;
  let rows: AreaCoverage[] = [];
  let seq = 0;

  async function load() {
    state.kind = kind.s.value;
    state.category = category.s.value;
    state.measure = measure.s.value as Measure;
    const fit = council.s.value !== state.council;
    state.council = council.s.value;
    const mine = ++seq;
    status.textContent = t('common.loading');
    const q = coverageQuery(state.kind, state.category, state.council ? undefined : map?.bbox(), state.council);
    try {
      const res = await call<CoverageResponse>('GET', '/v1/coverage' + q);
      if (mine !== seq || !alive) return;
      rows = res.areas ?? [];
      render(res, q);
      if (fit && state.council && rows.length) {
        const lng = rows.map((r) => r.reference_longitude), lat = rows.map((r) => r.reference_latitude);
        map?.fit([Math.min(...lng), Math.min(...lat), Math.max(...lng), Math.max(...lat)]);
      }
    } catch (err) {
      if (mine !== seq || !alive) return;
      status.textContent = err instanceof ApiError ? apiMessage(err) : t('error.generic');
    }
  }

  function render(res: CoverageResponse, q: string) {
    const m = measures[state.measure];
    const values = rows.map(m.value);
    const breaks = classify(values.filter((v): v is number => v !== null));
    const classes = new Map<string, number>();
    rows.forEach((a, i) => values[i] !== null && classes.set(a.code, classOf(values[i]!, breaks)));
    map?.paint(state.kind, classes);
    if (state.selected && !rows.some((a) => a.code === state.selected)) {
      // The chosen area has left the figures (another kind, council or view): its panel goes too.
      state.selected = undefined;
      map?.select(undefined);
      detail.hidden = true;
    }
    const name = councilList.find((c) => c.code === state.council)?.display_name;
    status.textContent = name ? t('officer.shownCouncil', { count: num(rows.length, 0), council: name }) : t('officer.shown', { count: num(rows.length, 0) });
    fill(downloads, t('officer.download'), ' ',
      h('a', { href: '/v1/coverage.csv' + q, download: 'coverage.csv', id: 'dl-csv' }, 'CSV'), ' · ',
      h('a', { href: '/v1/coverage.geojson' + q, download: 'coverage.geojson', id: 'dl-geojson', 'data-column': m.column(state.category) }, 'GeoJSON'));
    renderLegend(breaks);
    renderTable();
    fill(equity, equityChart(rows, res.summary ?? undefined, state.measure));
  }

  function renderLegend(breaks: number[]) {
    const m = state.measure;
    const items = breaks.map((b, i) => h('li', {}, swatch(palette[i]),
      i === 0 ? t('officer.upTo', { value: show(m, b) }) : t('officer.range', { from: show(m, breaks[i - 1]), to: show(m, b) })));
    fill(legend, h('p', { class: 'legend-title' }, t(measures[m].label)),
      h('ul', {}, items, h('li', {}, swatch(noValue), t('officer.noValue')),
        state.deprivation ? h('li', {}, h('span', { class: 'swatch hatch', 'aria-hidden': 'true' }), t('officer.deprivedKey')) : null));
  }

  function renderTable() {
    const m = measures[state.measure];
    const needle = filter.value.trim().toLowerCase();
    const shown = rows.filter((a) => !needle || a.display_name.toLowerCase().includes(needle) || a.code.toLowerCase().includes(needle))
      .sort((a, b) => (m.value(b) ?? -Infinity) - (m.value(a) ?? -Infinity) || a.display_name.localeCompare(b.display_name));
    fill(table,
      h('caption', { class: 'sr-only' }, t('officer.tableCaption', { measure: t(m.label) })),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('officer.area')), h('th', { scope: 'col' }, t(m.label)), h('th', { scope: 'col' }, t('officer.decile')))),
      h('tbody', {}, shown.map((a) => {
        const v = m.value(a);
        return h('tr', { 'data-code': a.code, 'data-value': v === null ? '' : String(v), class: a.code === state.selected ? 'chosen' : undefined },
          h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', onclick: () => void choose(a.code) }, a.display_name)),
          h('td', {}, show(state.measure, v)),
          h('td', {}, a.deprivation_decile ? num(a.deprivation_decile, 0) : t('officer.none')));
      })));
    table.dataset.seq = String(++tableSeq);
  }
  let tableSeq = 0;

  /** One area's figures per category: a call per category on a tiny box at its reference point. */
  async function choose(code: string) {
    const a = rows.find((r) => r.code === code);
    if (!a) return;
    state.selected = code;
    map?.select(code);
    for (const tr of table.querySelectorAll('tr.chosen')) tr.classList.remove('chosen');
    table.querySelector(`tr[data-code="${CSS.escape(code)}"]`)?.classList.add('chosen');
    const e = 1e-6;
    const box = [a.reference_longitude - e, a.reference_latitude - e, a.reference_longitude + e, a.reference_latitude + e].map((x) => x.toFixed(6)).join(',');
    detail.hidden = false;
    // The heading stays while the figures load (moving it would lose focus).
    const heading = h('h2', { id: 'area-h', tabindex: '-1' }, a.display_name);
    const body = h('div', {}, h('p', {}, t('common.loading')));
    fill(detail, heading, body);
    heading.focus();
    const cats = ['', ...categories.map((c) => c.code)];
    const results: (AreaCoverage | undefined)[] = [];
    try {
      // Four at a time: the server has other callers.
      for (let i = 0; i < cats.length; i += 4) {
        const part = await Promise.all(cats.slice(i, i + 4).map((c) =>
          call<CoverageResponse>('GET', '/v1/coverage' + coverageQuery(state.kind, c, box)).then((r) => r.areas?.find((x) => x.code === code))));
        results.push(...part);
        if (!alive || state.selected !== code) return;
      }
    } catch (err) {
      fill(body, h('p', { role: 'alert' }, err instanceof ApiError ? apiMessage(err) : t('error.generic')));
      return;
    }
    const cell = (m: Measure, r?: AreaCoverage) => h('td', {}, r ? show(m, measures[m].value(r)) : t('officer.none'));
    const cols: Measure[] = ['walk', 'nearest', 'sessions', 'places', 'referrals'];
    fill(body,
      h('dl', { class: 'facts' },
        h('dt', {}, t('officer.code')), h('dd', {}, a.code),
        h('dt', {}, t('officer.kind')), h('dd', {}, t(kindLabels[a.kind] ?? 'officer.kind.lsoa')),
        h('dt', {}, t('officer.population')), h('dd', {}, Number(a.population) ? num(Number(a.population), 0) : t('officer.none')),
        h('dt', {}, t('officer.decile')), h('dd', {}, a.deprivation_decile ? t('officer.decileOf', { decile: num(a.deprivation_decile, 0) }) : t('officer.none'))),
      h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': t('officer.perCategory') },
        h('table', { class: 'data', id: 'area-figures' },
          h('caption', {}, t('officer.perCategory')),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('officer.category')), cols.map((m) => h('th', { scope: 'col' }, t(measures[m].label))))),
          h('tbody', {}, cats.map((c, i) => h('tr', { 'data-category': c || 'any' },
            h('th', { scope: 'row' }, c ? label(terms.get(c), c) : t('officer.allCategories')),
            cols.map((m) => cell(m, results[i]))))))));
    detail.dataset.code = code;
  }

  mapEl.dataset.painted = '';
  const mapReady = coverageMap(mapEl, state.kind, (code) => void choose(code)).then((m) => {
    if (!alive) { m.destroy(); return undefined; }
    map = m;
    m.deprivation(state.deprivation);
    let timer: number | undefined;
    m.onMove(() => { clearTimeout(timer); if (!state.council) timer = window.setTimeout(() => void load(), 300); });
    return m;
  }).catch(() => undefined); // no WebGL: the table alone, all areas of the kind

  form.addEventListener('change', (e) => {
    if (e.target === depBox) {
      state.deprivation = depBox.checked;
      map?.deprivation(state.deprivation);
      renderLegend(classify(rows.map(measures[state.measure].value).filter((v): v is number => v !== null)));
      return;
    }
    void load();
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  filter.addEventListener('input', renderTable);
  await mapReady;
  await load();
  return () => {
    alive = false;
    map?.destroy();
  };
}
