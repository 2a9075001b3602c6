// The council officer's figures: the coverage API's JSON shapes, the
// measures an officer can map, and what the screen computes from the
// per-area rows (classes for the choropleth, means by deprivation
// decile). Every figure is the API's; the console only groups them.
import { query } from '../api';
import { t, locale, type Key } from '../i18n';
import { distance } from '../format';

export interface AreaCoverage {
  code: string;
  display_name: string;
  kind: string;
  parent_code: string;
  council_code?: string;
  population: string | number;
  deprivation_decile?: number;
  assets_inside?: number;
  assets_within_walk?: number;
  nearest?: { category: string; distance_meters?: number | null }[];
  weekly_sessions_per_1000?: number | null;
  weekly_places_per_1000?: number | null;
  referrals_per_1000?: number | null;
  reference_latitude: number;
  reference_longitude: number;
}
export interface DecileSummary { decile: number; areas: number; population: string | number; mean_weekly_places_per_1000?: number | null; share_without_asset_within_walk?: number }
export interface CoverageSummary {
  areas?: number;
  deprivation_attribute?: string;
  deciles?: DecileSummary[];
  places_per_1000?: { most_deprived?: number | null; least_deprived?: number | null; ratio?: number | null; gap?: number | null } | null;
  concentration_index?: number | null;
}
export interface CoverageResponse {
  areas?: AreaCoverage[];
  summary?: CoverageSummary | null;
  walking_distance_meters?: number;
  referral_window_start?: string;
  referral_window_end?: string;
}

export type Measure = 'walk' | 'nearest' | 'sessions' | 'places' | 'referrals';

/** Each measure: its label, how it reads from a row, its column in the downloads. */
export const measures: Record<Measure, { label: Key; value: (a: AreaCoverage) => number | null; column: (category: string) => string; unit?: 'm' }> = {
  walk: { label: 'officer.measure.walk', value: (a) => a.assets_within_walk ?? 0, column: () => 'assets_within_walk' },
  nearest: {
    label: 'officer.measure.nearest', value: (a) => a.nearest?.[0]?.distance_meters ?? null,
    column: (c) => `nearest_${c || 'any'}_m`, unit: 'm',
  },
  sessions: { label: 'officer.measure.sessions', value: (a) => a.weekly_sessions_per_1000 ?? null, column: () => 'weekly_sessions_per_1000' },
  places: { label: 'officer.measure.places', value: (a) => a.weekly_places_per_1000 ?? null, column: () => 'weekly_places_per_1000' },
  referrals: { label: 'officer.measure.referrals', value: (a) => a.referrals_per_1000 ?? null, column: () => 'referrals_per_1000' },
};

/** The coverage parameters shared by the JSON call and the downloads, so a download holds what is on screen. */
export const coverageQuery = (kind: string, category: string, bbox?: string, council?: string) =>
  query({ kind, categories: category || undefined, council: council || undefined, bbox });

/** Up to five classes by quantile of the values; breaks are each class's upper bound. */
export function classify(values: number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return [];
  const breaks: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const b = sorted[Math.min(sorted.length - 1, Math.ceil((i * sorted.length) / 5) - 1)];
    if (!breaks.length || b > breaks[breaks.length - 1]) breaks.push(b);
  }
  return breaks;
}

export const classOf = (v: number, breaks: number[]) => {
  const i = breaks.findIndex((b) => v <= b);
  return i < 0 ? breaks.length - 1 : i;
};

/** The mean of a measure per deprivation decile (1 = most deprived), areas without a decile or a value left out. */
export function byDecile(rows: AreaCoverage[], value: (a: AreaCoverage) => number | null) {
  const out: { decile: number; areas: number; population: number; mean: number | null }[] = [];
  for (let d = 1; d <= 10; d++) {
    const inD = rows.filter((a) => a.deprivation_decile === d);
    const vals = inD.map(value).filter((v): v is number => v !== null);
    out.push({ decile: d, areas: inD.length, population: inD.reduce((n, a) => n + Number(a.population || 0), 0),
      mean: vals.length ? vals.reduce((x, y) => x + y, 0) / vals.length : null });
  }
  return out;
}

export const num = (v: number, digits = 1) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(v);

/** A measure's value as the user reads it ("–" for none). */
export function show(m: Measure, v: number | null | undefined): string {
  if (v === null || v === undefined) return t('officer.none');
  return measures[m].unit === 'm' ? distance(v) : num(v);
}
