// The referral network's JSON (sparc.v1.ReferralNetwork as the gateway
// writes it: proto field names, enums as their names, int64 as strings,
// every count a released StatCount), the windows a meeting asks about,
// and how released counts read. Every figure is the API's; the console
// only lays the network out and lists it.
import { query } from '../api';
import { t, locale, type Key } from '../i18n';

/** A released count: withheld (1 to 7) when suppressed, else rounded as the rule says. */
export interface StatCount { value?: string | number; suppressed?: boolean }

export interface NetworkNode {
  id: string;
  display_name?: string;
  kind?: string;
  anonymous?: boolean;
  organisation?: string;
  deprivation_quintile?: number;
  degree_in?: number;
  degree_out?: number;
  strength_in?: StatCount | null;
  strength_out?: StatCount | null;
  betweenness?: number;
}
export interface NetworkEdge {
  source: string;
  target: string;
  referrals?: StatCount | null;
  accepted?: StatCount | null;
  declined?: StatCount | null;
  declined_reasons?: Record<string, StatCount>;
  attended?: StatCount | null;
  completed?: StatCount | null;
}
export interface NetworkMeasures {
  nodes?: number;
  edges?: number;
  density?: number;
  reciprocity?: number;
  top_decile_share?: number;
  cross_quintile_share?: number;
  new_ties?: number;
  lost_ties?: number;
  referrals?: StatCount | null;
}
export interface TieChange { source: string; target: string; kind?: string; before?: StatCount | null; after?: StatCount | null }
export interface NetworkWindow { window: string; start_time?: string; end_time?: string; measures?: NetworkMeasures | null; changes?: TieChange[] }
export interface ReferralNetwork {
  window?: string;
  start_time?: string | null;
  end_time?: string | null;
  area?: string;
  nodes?: NetworkNode[];
  edges?: NetworkEdge[];
  measures?: NetworkMeasures | null;
  changes?: TieChange[];
  history?: NetworkWindow[];
  suppressed?: boolean;
}

export type Granularity = '' | 'NETWORK_GRANULARITY_ASSETS';
export type Period = '' | 'NETWORK_PERIOD_MONTH' | 'NETWORK_PERIOD_QUARTER';

export interface Filters { window: string; area: string; granularity: Granularity; period: Period }

/** The network call's parameters; the downloads take the same, so a file holds what is on screen. */
export const networkQuery = (f: Filters) =>
  query({ window: f.window, area: f.area || undefined, granularity: f.granularity || undefined, period: f.period || undefined });

/** GraphML and CSV: the network itself (the history is the JSON's only). */
export const exportQuery = (f: Filters, extra: Record<string, string> = {}) =>
  query({ ...extra, window: f.window, area: f.area || undefined, granularity: f.granularity || undefined });

/** The neighbourhood report: an area's, in the console's language. */
export const reportQuery = (f: Filters, format: 'pdf' | 'html', lang: string) => query({ area: f.area, window: f.window, format, lang });

/** A window offered: its value in the API's syntax and its label. */
export interface WindowChoice { value: string; label: string }

/**
 * The windows offered, newest first: the last eight quarters and the
 * last twelve months that have ended (in UTC, as the API counts them;
 * one still running would be cut by the disclosure rule anyway).
 */
export function windowChoices(now = new Date()): { quarters: WindowChoice[]; months: WindowChoice[] } {
  const y = now.getUTCFullYear(), m = now.getUTCMonth();
  const quarters: WindowChoice[] = [];
  let qy = y, q = Math.floor(m / 3); // the running quarter, 0-based: the one before it has ended
  for (let i = 0; i < 8; i++) {
    q--;
    if (q < 0) { q = 3; qy--; }
    quarters.push({ value: `${qy}-Q${q + 1}`, label: t('network.quarter', { quarter: q + 1, year: qy }) });
  }
  const months: WindowChoice[] = [];
  const fmt = new Intl.DateTimeFormat(locale(), { month: 'long', year: 'numeric', timeZone: 'UTC' });
  for (let i = 1; i <= 12; i++) {
    const d = new Date(Date.UTC(y, m - i, 1));
    months.push({ value: `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`, label: fmt.format(d) });
  }
  return { quarters, months };
}

/** A released count as a number for drawing: a withheld one counts as 4, the middle of 1–7 (as disclosure.Sum does). */
export const weight = (c: StatCount | null | undefined) => (c?.suppressed ? 4 : Number(c?.value ?? 0));

export const num = (v: number, digits = 0) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(v);
export const pct = (v: number | undefined) => new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(v ?? 0);

/** A released count as the user reads it: "fewer than 8" when withheld. */
export const count = (c: StatCount | null | undefined) => (c?.suppressed ? t('network.withheld') : num(Number(c?.value ?? 0)));

export const kindKeys: Record<string, Key> = {
  NETWORK_NODE_KIND_REFERRER: 'network.kind.referrer',
  NETWORK_NODE_KIND_GROUP: 'network.kind.group',
  NETWORK_NODE_KIND_ASSET: 'network.kind.asset',
};
export const kindLabel = (kind: string | undefined) => t(kindKeys[kind ?? ''] ?? 'network.kind.unknown');

/** Node colours by kind, each at 3:1 or more against white (WCAG non-text contrast). */
export const kindColours: Record<string, string> = {
  NETWORK_NODE_KIND_REFERRER: '#1d5c8c',
  NETWORK_NODE_KIND_GROUP: '#b35806',
  NETWORK_NODE_KIND_ASSET: '#2d7f3e',
};
export const otherColour = '#6b6b6b';

export const changeKeys: Record<string, Key> = {
  TIE_CHANGE_KIND_FORMED: 'network.change.formed',
  TIE_CHANGE_KIND_STRENGTHENED: 'network.change.strengthened',
  TIE_CHANGE_KIND_WEAKENED: 'network.change.weakened',
  TIE_CHANGE_KIND_LOST: 'network.change.lost',
};

/** A node's name as shown: its own, or its anonymous code (an organisation that is not public has no name). */
export const nodeName = (n: NetworkNode | undefined, id: string) => (n && !n.anonymous && n.display_name ? n.display_name : n?.id ?? id);
