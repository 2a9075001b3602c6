// The referral network (`#/network`, admins and area analysts): who
// referred to whom in a window, for a community-of-practice meeting.
// Choose the window (a quarter or a month that has ended; the last
// quarter by default), an area, organisations or activities, and whether
// to compare window by window; the network from GET /v1/referralNetwork
// is drawn with our own force layout in SVG (a node's size its referrals,
// its colour its kind, an anonymous organisation by its code, a tie's
// width its referrals, a withheld count dashed), with the network's
// measures, the ties that changed since the window before, and tables
// that say everything the drawing does (the drawing is one more way in,
// not the only one). The downloads (GraphML, CSV, the neighbourhood
// report) carry the same filters, fetched with the caller's key.
import { call, fetchFile, ApiError } from '../api';
import { h, fill } from '../dom';
import { apiMessage } from '../forms';
import { t, lang } from '../i18n';
import { forceLayout } from './network-layout';
import {
  networkQuery, exportQuery, reportQuery, windowChoices, weight, count, num, pct, kindLabel, kindColours, otherColour, changeKeys, nodeName,
  type Filters, type ReferralNetwork, type NetworkNode, type NetworkEdge, type NetworkMeasures, type TieChange, type Granularity, type Period,
} from './network-data';

const state: Filters & { selected?: string } = { window: '', area: '', granularity: '', period: '' };
/** Networks rendered since the page loaded (main's data-loaded: the browser test waits on it). */
let rendered = 0;

const NS = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>, ...children: (SVGElement | string)[]): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}
const title = (text: string) => svg('title', {}, text);

/** A legend's colour sample, styled through the CSSOM (the CSP refuses style attributes). */
function swatch(colour: string, cls = 'swatch') {
  const s = h('span', { class: cls, 'aria-hidden': 'true' });
  s.style.background = colour;
  return s;
}

export async function networkView(main: HTMLElement) {
  const { quarters, months } = windowChoices();
  if (!state.window) state.window = quarters[0].value;
  // Councils to filter by, when the directory has any (as the coverage map).
  const councils = await call<{ areas?: { code: string; display_name: string }[] }>('GET', '/v1/areas?kind=local_authority&page_size=100')
    .then((r) => (r.areas ?? []).sort((a, b) => a.display_name.localeCompare(b.display_name)), () => []);

  const select = (id: string, text: string, options: (HTMLOptionElement | HTMLOptGroupElement)[], value: string) => {
    const s = h('select', { id }, options);
    s.value = value;
    return { s, el: h('div', { class: 'field' }, h('label', { for: id }, text), s) };
  };
  const opt = (value: string, text: string) => h('option', { value }, text);
  const windowSel = select('net-window', t('network.window'), [
    h('optgroup', { label: t('network.quarters') }, quarters.map((w) => opt(w.value, w.label))),
    h('optgroup', { label: t('network.months') }, months.map((w) => opt(w.value, w.label))),
  ], state.window);
  if (windowSel.s.value !== state.window) {
    // A window kept from before that is no longer offered (a month turned): back to the default.
    state.window = windowSel.s.value = quarters[0].value;
  }
  const areaSel = select('net-area', t('network.area'), [opt('', t('network.allAreas')), ...councils.map((c) => opt(c.code, c.display_name))], state.area);
  const granSel = select('net-granularity', t('network.granularity'),
    [opt('', t('network.granularity.organisations')), opt('NETWORK_GRANULARITY_ASSETS', t('network.granularity.assets'))], state.granularity);
  const periodSel = select('net-period', t('network.period'), [opt('', t('network.period.none')),
    opt('NETWORK_PERIOD_MONTH', t('network.period.month')), opt('NETWORK_PERIOD_QUARTER', t('network.period.quarter'))], state.period);
  const form = h('form', { class: 'coverage-controls', id: 'net-form', novalidate: true, 'aria-label': t('network.controls') },
    h('div', { class: 'row' }, windowSel.el, areaSel.el, granSel.el, periodSel.el));

  const status = h('p', { class: 'status', id: 'net-status', role: 'status', 'aria-live': 'polite' });
  const downloads = h('div', { class: 'downloads', id: 'net-downloads' });
  const drawing = h('figure', { class: 'network', id: 'net-figure' });
  const detail = h('section', { id: 'net-node', 'aria-labelledby': 'net-node-h', hidden: true });
  const measures = h('section', { id: 'net-measures', 'aria-labelledby': 'net-measures-h' });
  const nodesSec = h('section', { id: 'net-nodes', 'aria-labelledby': 'net-nodes-h' });
  const tiesSec = h('section', { id: 'net-ties', 'aria-labelledby': 'net-ties-h' });
  const changesSec = h('section', { id: 'net-changes', 'aria-labelledby': 'net-changes-h' });
  const historySec = h('section', { id: 'net-history', 'aria-labelledby': 'net-history-h', hidden: true });
  fill(main, h('h1', {}, t('network.title')), h('p', { class: 'lead' }, t('network.intro')), form, status, downloads,
    h('div', { class: 'split net-split' }, h('div', { class: 'net-main' }, drawing), h('div', { class: 'net-side' }, detail, measures)),
    nodesSec, tiesSec, changesSec, historySec);

  let alive = true;
  let seq = 0;
  let net: ReferralNetwork = {};
  let byId = new Map<string, NetworkNode>();

  async function load() {
    state.window = windowSel.s.value;
    state.area = areaSel.s.value;
    state.granularity = granSel.s.value as Granularity;
    state.period = periodSel.s.value as Period;
    const mine = ++seq;
    status.textContent = t('common.loading');
    renderDownloads();
    try {
      const res = await call<ReferralNetwork>('GET', '/v1/referralNetwork' + networkQuery(state));
      if (mine !== seq || !alive) return;
      net = res;
      byId = new Map((res.nodes ?? []).map((n) => [n.id, n]));
      if (state.selected && !byId.has(state.selected)) state.selected = undefined;
      render();
    } catch (err) {
      if (mine !== seq || !alive) return;
      status.textContent = err instanceof ApiError ? apiMessage(err) : t('error.generic');
    }
  }

  const windowLabel = (w: string | undefined) => [...quarters, ...months].find((c) => c.value === w)?.label ?? w ?? '';
  const name = (id: string) => nodeName(byId.get(id), id);

  function render() {
    const nodes = net.nodes ?? [], edges = net.edges ?? [];
    status.textContent = t('network.shown', { window: windowLabel(net.window || state.window), nodes: num(nodes.length), edges: num(edges.length) });
    fill(drawing, ...drawNetwork(nodes, edges));
    renderMeasures(net.measures ?? {});
    renderNodes();
    renderTies();
    renderChanges(net.changes ?? []);
    renderHistory();
    renderDetail();
    main.dataset.loaded = String(++rendered);
  }

  // Downloads: links that carry the filters (and say so), fetched with the key on a click.
  function renderDownloads() {
    const link = (id: string, path: string, file: string, text: string) =>
      h('a', { id, href: path, download: file, onclick: (e: Event) => { e.preventDefault(); void save(path, file); } }, text);
    const base = `referral-network-${state.window}${state.area ? '-' + state.area : ''}`;
    const report = (format: 'pdf' | 'html') =>
      link('dl-report-' + format, '/v1/reports/neighbourhood' + reportQuery(state, format, lang()), `neighbourhood-${state.area}-${state.window}.${format}`, format.toUpperCase());
    fill(downloads,
      h('p', {}, t('network.download'), ' ',
        link('dl-graphml', '/v1/referralNetwork.graphml' + exportQuery(state), base + '.graphml', t('network.dl.graphml')), ' · ',
        link('dl-nodes', '/v1/referralNetwork.csv' + exportQuery(state, { table: 'nodes' }), base + '-nodes.csv', t('network.dl.nodes')), ' · ',
        link('dl-edges', '/v1/referralNetwork.csv' + exportQuery(state, { table: 'edges' }), base + '-edges.csv', t('network.dl.edges'))),
      h('p', {}, t('network.report'), ' ',
        state.area ? [report('pdf'), ' · ', report('html')] : h('span', { class: 'hint', id: 'report-needs-area' }, t('network.reportNeedsArea'))),
      h('p', { class: 'form-error', role: 'alert', id: 'dl-error', hidden: true }));
  }

  async function save(path: string, file: string) {
    const error = downloads.querySelector<HTMLElement>('#dl-error')!;
    error.hidden = true;
    try {
      const blob = await fetchFile(path);
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: file, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      error.textContent = err instanceof ApiError ? apiMessage(err) : t('error.generic');
      error.hidden = false;
    }
  }

  function drawNetwork(nodes: NetworkNode[], edges: NetworkEdge[]): (Node | null)[] {
    if (!nodes.length) return [h('p', { id: 'net-empty' }, t('network.empty'))];
    const W = 800, H = 560;
    const index = new Map(nodes.map((n, i) => [n.id, i]));
    const drawn = edges.filter((e) => index.has(e.source) && index.has(e.target));
    const pos = forceLayout(nodes.length, drawn.map((e) => [index.get(e.source)!, index.get(e.target)!, weight(e.referrals)]), W, H, 80, 36); // room for names beside the nodes at the edges
    const strength = nodes.map((n) => weight(n.strength_in) + weight(n.strength_out));
    const maxS = Math.max(1, ...strength);
    const radius = strength.map((s) => 5 + 13 * Math.sqrt(s / maxS));
    const maxW = Math.max(1, ...drawn.map((e) => weight(e.referrals)));
    const pairs = new Set(drawn.map((e) => e.source + '\u0000' + e.target));
    // Names on the drawing for the busiest nodes (all of a small network); every node's is in its <title> and the table.
    const labelled = new Set([...strength.keys()].sort((a, b) => strength[b] - strength[a]).slice(0, nodes.length <= 30 ? nodes.length : 15));

    const drawTitle = t('network.drawingTitle', { window: windowLabel(net.window || state.window), nodes: num(nodes.length), edges: num(drawn.length) });
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'net-svg', id: 'net-svg', role: 'group', 'aria-labelledby': 'net-svg-title' },
      svg('title', { id: 'net-svg-title' }, drawTitle),
      svg('defs', {}, svg('marker', { id: 'net-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, markerUnits: 'userSpaceOnUse', orient: 'auto' },
        svg('path', { d: 'M0,0L10,5L0,10z', class: 'arrow' }))));
    const ties = svg('g', { class: 'ties' });
    for (const e of drawn) {
      const a = index.get(e.source)!, b = index.get(e.target)!;
      const p = pos[a], q = pos[b];
      const len = Math.hypot(q.x - p.x, q.y - p.y) || 1;
      const ux = (q.x - p.x) / len, uy = (q.y - p.y) / len;
      // A tie referred back is drawn beside its reverse, not over it.
      const off = pairs.has(e.target + '\u0000' + e.source) ? 3 : 0;
      const w = weight(e.referrals);
      const withheld = !!e.referrals?.suppressed;
      ties.append(svg('line', {
        x1: (p.x + ux * radius[a] - uy * off).toFixed(1), y1: (p.y + uy * radius[a] + ux * off).toFixed(1),
        x2: (q.x - ux * (radius[b] + 2) - uy * off).toFixed(1), y2: (q.y - uy * (radius[b] + 2) + ux * off).toFixed(1),
        'stroke-width': withheld ? 1.5 : (1 + 5 * Math.sqrt(w / maxW)).toFixed(2), class: withheld ? 'tie withheld' : 'tie',
        'marker-end': 'url(#net-arrow)', 'data-source': e.source, 'data-target': e.target,
      }, title(t('network.edgeTitle', { source: name(e.source), target: name(e.target), referrals: count(e.referrals) }))));
    }
    const dots = svg('g', { class: 'nodes' });
    nodes.forEach((n, i) => {
      const g = svg('g', { class: n.anonymous ? 'node anonymous' : 'node', tabindex: 0, role: 'button', 'data-id': n.id, 'aria-pressed': String(state.selected === n.id) },
        title(t('network.nodeTitle', { name: nodeName(n, n.id), kind: kindLabel(n.kind), in: count(n.strength_in), out: count(n.strength_out) })),
        svg('circle', { cx: pos[i].x.toFixed(1), cy: pos[i].y.toFixed(1), r: radius[i].toFixed(1), fill: kindColours[n.kind ?? ''] ?? otherColour }));
      if (labelled.has(i)) {
        const label = nodeName(n, n.id);
        g.append(svg('text', { x: pos[i].x.toFixed(1), y: (pos[i].y + radius[i] + 12).toFixed(1), 'text-anchor': 'middle', 'aria-hidden': 'true' },
          label.length > 22 ? label.slice(0, 21) + '…' : label));
      }
      const pick = () => choose(n.id);
      g.addEventListener('click', pick);
      g.addEventListener('focus', pick);
      g.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') { e.preventDefault(); pick(); } });
      dots.append(g);
    });
    root.append(ties, dots);
    const legend = h('ul', { class: 'net-legend', id: 'net-legend' },
      h('li', {}, swatch(kindColours.NETWORK_NODE_KIND_REFERRER, 'swatch dot'), t('network.legend.referrer')),
      h('li', {}, swatch(kindColours.NETWORK_NODE_KIND_GROUP, 'swatch dot'), t('network.legend.group')),
      state.granularity ? h('li', {}, swatch(kindColours.NETWORK_NODE_KIND_ASSET, 'swatch dot'), t('network.legend.asset')) : null,
      h('li', {}, h('span', { class: 'swatch dot anon', 'aria-hidden': 'true' }), t('network.legend.anonymous')),
      h('li', {}, t('network.legend.edges')));
    highlight(root);
    return [h('figcaption', {}, drawTitle), root as unknown as Node, legend];
  }

  /** Marks the chosen node and its ties in the drawing; the others fade. */
  function highlight(root: Element | null = drawing.querySelector('svg')) {
    if (!root) return;
    const id = state.selected;
    root.classList.toggle('has-selection', !!id);
    for (const g of root.querySelectorAll<SVGGElement>('g.node')) {
      const on = g.dataset.id === id;
      g.classList.toggle('chosen', on);
      g.setAttribute('aria-pressed', String(on));
    }
    for (const l of root.querySelectorAll<SVGLineElement>('line.tie')) l.classList.toggle('near', !!id && (l.dataset.source === id || l.dataset.target === id));
  }

  function choose(id: string) {
    if (state.selected === id) return;
    state.selected = id;
    highlight();
    for (const tr of nodesSec.querySelectorAll<HTMLElement>('tr[data-id]')) tr.classList.toggle('chosen', tr.dataset.id === id);
    renderDetail();
  }

  function renderDetail() {
    const n = state.selected ? byId.get(state.selected) : undefined;
    detail.hidden = !n;
    if (!n) return;
    const mine = (net.edges ?? []).filter((e) => e.source === n.id || e.target === n.id);
    fill(detail, h('h2', { id: 'net-node-h' }, nodeName(n, n.id)),
      h('dl', { class: 'facts' },
        h('dt', {}, t('network.col.kind')), h('dd', {}, kindLabel(n.kind) + (n.anonymous ? ` (${t('network.anonymous')})` : '')),
        h('dt', {}, t('network.col.quintile')), h('dd', {}, n.deprivation_quintile ? num(n.deprivation_quintile) : t('officer.none')),
        n.organisation ? [h('dt', {}, t('network.col.organisation')), h('dd', {}, name(n.organisation))] : null,
        h('dt', {}, t('network.col.strengthIn')), h('dd', {}, count(n.strength_in)),
        h('dt', {}, t('network.col.strengthOut')), h('dd', {}, count(n.strength_out)),
        h('dt', {}, t('network.col.betweenness')), h('dd', {}, num(n.betweenness ?? 0, 3))),
      tieTable('net-node-ties', t('network.nodeTies', { name: nodeName(n, n.id) }), mine));
  }

  function renderMeasures(m: NetworkMeasures) {
    const row = (label: string, value: string, id: string) => [h('dt', {}, label), h('dd', { id }, value)];
    fill(measures, h('h2', { id: 'net-measures-h' }, t('network.measures')),
      h('dl', { class: 'facts' },
        row(t('network.m.referrals'), count(m.referrals), 'm-referrals'),
        row(t('network.m.nodes'), num(m.nodes ?? 0), 'm-nodes'),
        row(t('network.m.edges'), num(m.edges ?? 0), 'm-edges'),
        row(t('network.m.density'), num(m.density ?? 0, 3), 'm-density'),
        row(t('network.m.reciprocity'), pct(m.reciprocity), 'm-reciprocity'),
        row(t('network.m.topDecile'), pct(m.top_decile_share), 'm-top-decile'),
        row(t('network.m.crossQuintile'), pct(m.cross_quintile_share), 'm-cross-quintile'),
        row(t('network.m.newTies'), num(m.new_ties ?? 0), 'm-new-ties'),
        row(t('network.m.lostTies'), num(m.lost_ties ?? 0), 'm-lost-ties')),
      net.suppressed ? h('p', { class: 'hint', id: 'net-suppressed' }, t('network.suppressed')) : null);
  }

  function renderNodes() {
    const nodes = [...(net.nodes ?? [])].sort((a, b) =>
      weight(b.strength_in) + weight(b.strength_out) - weight(a.strength_in) - weight(a.strength_out) || nodeName(a, a.id).localeCompare(nodeName(b, b.id)));
    const cols = ['network.col.name', 'network.col.kind', 'network.col.quintile', 'network.col.degreeIn', 'network.col.degreeOut',
      'network.col.strengthIn', 'network.col.strengthOut', 'network.col.betweenness'] as const;
    fill(nodesSec, h('h2', { id: 'net-nodes-h' }, t('network.nodes')),
      h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'net-nodes-h' },
        h('table', { class: 'data', id: 'net-node-table' },
          h('caption', { class: 'sr-only' }, t('network.nodes')),
          h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
          h('tbody', {}, nodes.map((n) => h('tr', { 'data-id': n.id, class: n.id === state.selected ? 'chosen' : undefined },
            h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', onclick: () => choose(n.id) }, nodeName(n, n.id))),
            h('td', {}, kindLabel(n.kind) + (n.anonymous ? ` (${t('network.anonymous')})` : '')),
            h('td', {}, n.deprivation_quintile ? num(n.deprivation_quintile) : t('officer.none')),
            h('td', {}, num(n.degree_in ?? 0)), h('td', {}, num(n.degree_out ?? 0)),
            h('td', {}, count(n.strength_in)), h('td', {}, count(n.strength_out)),
            h('td', {}, num(n.betweenness ?? 0, 3))))))));
  }

  /** Ties with their outcome mix, as a table. */
  function tieTable(id: string, caption: string, edges: NetworkEdge[]) {
    const cols = ['network.col.from', 'network.col.to', 'network.m.referrals', 'network.col.accepted', 'network.col.declined',
      'network.col.reasons', 'network.col.attended', 'network.col.completed'] as const;
    // Declined by the provider's reason (its status reason code), each count released.
    const reasons = (e: NetworkEdge) => Object.entries(e.declined_reasons ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([r, c]) => `${r}: ${count(c)}`).join(', ') || t('officer.none');
    return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': caption },
      h('table', { class: 'data', id },
        h('caption', {}, caption),
        h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
        h('tbody', {}, edges.map((e) => h('tr', { 'data-source': e.source, 'data-target': e.target },
          h('td', {}, name(e.source)), h('td', {}, name(e.target)),
          [e.referrals, e.accepted, e.declined].map((c) => h('td', {}, count(c))), h('td', {}, reasons(e)),
          [e.attended, e.completed].map((c) => h('td', {}, count(c))))))));
  }

  function renderTies() {
    fill(tiesSec, h('details', {}, h('summary', {}, h('h2', { id: 'net-ties-h' }, t('network.ties'))),
      tieTable('net-tie-table', t('network.ties'), net.edges ?? [])));
  }

  function changeTable(id: string, caption: string, changes: TieChange[]) {
    if (!changes.length) return h('p', { id: id + '-none' }, t('network.noChanges'));
    const cols = ['network.col.from', 'network.col.to', 'network.col.change', 'network.col.before', 'network.col.after'] as const;
    return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': caption },
      h('table', { class: 'data', id },
        h('caption', {}, caption),
        h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
        h('tbody', {}, changes.map((c) => h('tr', { 'data-kind': c.kind ?? '' },
          h('td', {}, name(c.source)), h('td', {}, name(c.target)),
          h('td', {}, changeKeys[c.kind ?? ''] ? t(changeKeys[c.kind!]) : t('officer.none')),
          h('td', {}, count(c.before)), h('td', {}, count(c.after)))))));
  }

  function renderChanges(changes: TieChange[]) {
    fill(changesSec, h('h2', { id: 'net-changes-h' }, t('network.changes')), changeTable('net-change-table', t('network.changes'), changes));
  }

  function renderHistory() {
    const hist = net.history ?? [];
    historySec.hidden = !hist.length;
    if (!hist.length) return;
    const cols = ['network.col.window', 'network.m.referrals', 'network.m.nodes', 'network.m.edges', 'network.m.density',
      'network.m.reciprocity', 'network.m.newTies', 'network.m.lostTies'] as const;
    fill(historySec, h('h2', { id: 'net-history-h' }, t('network.history')),
      h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'net-history-h' },
        h('table', { class: 'data', id: 'net-history-table' },
          h('caption', { class: 'sr-only' }, t('network.history')),
          h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
          h('tbody', {}, hist.map((w) => {
            const m = w.measures ?? {};
            return h('tr', { 'data-window': w.window },
              h('th', { scope: 'row' }, windowLabel(w.window)), h('td', {}, count(m.referrals)), h('td', {}, num(m.nodes ?? 0)),
              h('td', {}, num(m.edges ?? 0)), h('td', {}, num(m.density ?? 0, 3)), h('td', {}, pct(m.reciprocity)),
              h('td', {}, num(m.new_ties ?? 0)), h('td', {}, num(m.lost_ties ?? 0)));
          })))));
  }

  form.addEventListener('change', () => void load());
  form.addEventListener('submit', (e) => e.preventDefault());
  await load();
  return () => {
    alive = false;
  };
}
