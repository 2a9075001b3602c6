// The equity chart: the chosen measure's mean per deprivation decile (1 =
// most deprived) as plain SVG bars, and the same figures as a table for
// screen readers (the drawing is hidden from them), with the API's own
// equity summary (share of areas without an asset within walking
// distance per decile, the concentration index of places).
import { h } from '../dom';
import { t, locale } from '../i18n';
import { measures, byDecile, num, show, type Measure, type AreaCoverage, type CoverageSummary } from './officer-data';

const NS = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export function equityChart(rows: AreaCoverage[], summary: CoverageSummary | undefined, measure: Measure): (HTMLElement | null)[] {
  const m = measures[measure];
  const groups = byDecile(rows, m.value);
  const title = t('officer.equityTitle', { measure: t(m.label) });
  const head = h('h2', { id: 'equity-h' }, t('officer.equity'));
  if (!groups.some((g) => g.areas > 0)) return [head, h('p', { id: 'equity-none' }, t('officer.equityNone'))];

  const W = 400, H = 220, left = 8, bottom = 36, top = 24, bw = (W - 2 * left) / 10;
  const max = Math.max(...groups.map((g) => g.mean ?? 0)) || 1;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'equity-chart', 'aria-hidden': 'true', focusable: 'false' });
  chart.append(svg('line', { x1: left, x2: W - left, y1: H - bottom, y2: H - bottom, stroke: '#4a4a4a' }));
  for (const g of groups) {
    const x = left + (g.decile - 1) * bw;
    const hgt = g.mean === null ? 0 : ((H - bottom - top) * g.mean) / max;
    chart.append(svg('rect', { x: x + 4, y: H - bottom - hgt, width: bw - 8, height: Math.max(hgt, g.mean === null ? 0 : 1), fill: g.decile <= 2 ? '#08519c' : '#6baed6', 'data-decile': g.decile }));
    chart.append(svg('text', { x: x + bw / 2, y: H - bottom - hgt - 5, 'text-anchor': 'middle', 'font-size': 11 }, g.mean === null ? '–' : show(measure, g.mean)));
    chart.append(svg('text', { x: x + bw / 2, y: H - bottom + 15, 'text-anchor': 'middle', 'font-size': 12 }, num(g.decile, 0)));
  }
  chart.append(svg('text', { x: W / 2, y: H - 4, 'text-anchor': 'middle', 'font-size': 12 }, t('officer.decileAxis')));

  const share = new Map((summary?.deciles ?? []).map((d) => [d.decile, d.share_without_asset_within_walk ?? 0]));
  const pct = (v: number) => new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 0 }).format(v);
  // A table box ignores a 1 px width: the hidden wrapper clips it.
  const table = h('div', { class: 'sr-only' }, h('table', { class: 'data', id: 'equity-table' },
    h('caption', {}, title),
    h('thead', {}, h('tr', {}, [t('officer.decile'), t('officer.areas'), t('officer.population'), t(m.label), t('officer.shareWithout')].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, groups.map((g) => h('tr', { 'data-mean': g.mean ?? '' },
      h('th', { scope: 'row' }, num(g.decile, 0)), h('td', {}, num(g.areas, 0)), h('td', {}, num(g.population, 0)),
      h('td', {}, show(measure, g.mean)), h('td', {}, share.has(g.decile) ? pct(share.get(g.decile)!) : t('officer.none')))))));

  const ci = summary?.concentration_index;
  const note = ci === null || ci === undefined ? null
    : h('p', { class: 'hint' }, t(ci < 0 ? 'officer.ciNegative' : 'officer.ciPositive', { value: num(ci, 2) }));
  return [head, h('figure', { class: 'equity' }, h('figcaption', {}, title), chart, table), note];
}
