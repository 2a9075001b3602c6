// How a remote service (telephone, online, home visits) reaches people
// and the area it covers, in the user's language: the search results and
// the asset page say it, as such a service has no place on the map.
import { call } from './api';
import { locale, t } from './i18n';
import type { Area, Asset } from './types';

export const isRemote = (a: Asset) => !!a.delivery_mode && a.delivery_mode !== 'DELIVERY_MODE_IN_PERSON' && a.delivery_mode !== 'DELIVERY_MODE_UNSPECIFIED';

export function deliveryText(a: Asset): string {
  switch (a.delivery_mode) {
    case 'DELIVERY_MODE_TELEPHONE': return t('search.mode.telephone');
    case 'DELIVERY_MODE_ONLINE': return t('search.mode.online');
    case 'DELIVERY_MODE_HOME_VISIT': return t('search.mode.homeVisit');
    default: return '';
  }
}

// Area names by code, asked once per page load.
const names = new Map<string, Promise<string>>();
const areaName = (code: string) => {
  if (!names.has(code)) names.set(code, call<Area>('GET', '/v1/areas/' + encodeURIComponent(code)).then((a) => a.display_name, () => code));
  return names.get(code)!;
};

/**
 * "covers Wirral, Sefton and 3 more areas" (names of the first three
 * areas), a country, or a drawn area: drawn says it (a search result's
 * drawn area covers the place searched; an asset page does not know one).
 */
export async function coverText(a: Asset, drawn = t('search.coversDrawn')): Promise<string> {
  const sa = a.service_area;
  if (sa?.country) {
    let country = sa.country;
    try {
      country = new Intl.DisplayNames([locale()], { type: 'region' }).of(sa.country) ?? sa.country;
    } catch {
      // an old browser: the code
    }
    return t('search.coversCountry', { country });
  }
  const codes = sa?.area_codes ?? [];
  if (codes.length) {
    const first = await Promise.all(codes.slice(0, 3).map(areaName));
    const more = codes.length - first.length;
    return t('search.coversAreas', { areas: first.join(', ') }) + (more > 0 ? ' ' + t('search.coversMore', { count: more }) : '');
  }
  return drawn;
}
