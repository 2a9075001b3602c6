// The results map: MapLibre GL JS over SPARC's own vector tiles (area
// outlines from /tiles/coverage), the search results as a clustered
// GeoJSON source. MapLibre is loaded on first use from our own origin
// (build.mjs copies it), so the first screen does not wait for it. No
// glyph server exists offline, so clusters show their size by radius and
// the list beside the map names every asset.
import type * as ML from 'maplibre-gl';
import { t } from './i18n';
import type { SearchResult } from './types';
import { idOf } from './types';

declare const MAPLIBRE_URL: string;
declare const MAPLIBRE_WORKER_URL: string;

let lib: Promise<typeof ML> | undefined;

export const loadMap = () =>
  (lib ??= (import(MAPLIBRE_URL) as Promise<typeof ML>).then((m) => {
    m.setWorkerUrl(MAPLIBRE_WORKER_URL);
    return m;
  }));

export interface ResultsMap {
  show(results: SearchResult[], centre?: [number, number]): void;
  destroy(): void;
}

/** A map in el; onPick is called with an asset id when a point is chosen. */
export async function resultsMap(el: HTMLElement, onPick: (id: string) => void): Promise<ResultsMap> {
  const ml = await loadMap();
  const map = new ml.Map({
    container: el,
    center: [-1.8904, 52.4862],
    zoom: 11,
    attributionControl: false,
    style: {
      version: 8,
      sources: {
        areas: { type: 'vector', tiles: [location.origin + '/tiles/coverage/{z}/{x}/{y}.mvt?kind=lsoa'], minzoom: 9, maxzoom: 14 },
        results: { type: 'geojson', data: { type: 'FeatureCollection', features: [] }, cluster: true, clusterRadius: 40, clusterMaxZoom: 14 },
      },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#f4f1ea' } },
        { id: 'areas-fill', type: 'fill', source: 'areas', 'source-layer': 'coverage', paint: { 'fill-color': '#e6efe9' } },
        { id: 'areas-line', type: 'line', source: 'areas', 'source-layer': 'coverage', paint: { 'line-color': '#8aa39a', 'line-width': 0.6 } },
        {
          id: 'clusters', type: 'circle', source: 'results', filter: ['has', 'point_count'],
          paint: { 'circle-color': '#1d5c8c', 'circle-opacity': 0.85, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2,
            'circle-radius': ['step', ['get', 'point_count'], 12, 5, 16, 20, 22] },
        },
        {
          id: 'points', type: 'circle', source: 'results', filter: ['!', ['has', 'point_count']],
          paint: { 'circle-color': '#c0392b', 'circle-radius': 7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 },
        },
      ],
    },
  });
  map.addControl(new ml.NavigationControl({ showCompass: false }));
  map.getCanvas().setAttribute('aria-label', t('map.label'));
  map.on('click', 'points', (e) => {
    const id = e.features?.[0]?.properties?.id;
    if (id) onPick(String(id));
  });
  map.on('click', 'clusters', async (e) => {
    const f = e.features?.[0];
    if (!f) return;
    const src = map.getSource('results') as ML.GeoJSONSource;
    const zoom = await src.getClusterExpansionZoom(f.properties.cluster_id);
    map.easeTo({ center: (f.geometry as { coordinates: number[] }).coordinates as [number, number], zoom });
  });
  for (const layer of ['points', 'clusters']) {
    map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
  }
  const ready = new Promise<void>((r) => (map.loaded() ? r() : map.once('load', () => r())));
  return {
    show(results, centre) {
      void ready.then(() => {
        const features = results.map((r) => ({
          type: 'Feature' as const,
          properties: { id: idOf(r.asset.name), name: r.asset.display_name },
          geometry: { type: 'Point' as const, coordinates: [r.asset.location.longitude, r.asset.location.latitude] },
        }));
        (map.getSource('results') as ML.GeoJSONSource).setData({ type: 'FeatureCollection', features });
        const b = new ml.LngLatBounds();
        for (const f of features) b.extend(f.geometry.coordinates as [number, number]);
        if (centre) b.extend(centre);
        if (!b.isEmpty()) map.fitBounds(b, { padding: 40, maxZoom: 15, duration: 0 });
        // When drawn, the map says how many results it shows (points and
        // the points inside clusters): the list and the map agree.
        map.once('idle', () => {
          const drawn = map.queryRenderedFeatures({ layers: ['points', 'clusters'] })
            .reduce((n, f) => n + (f.properties.point_count ?? 1), 0);
          el.dataset.shown = String(drawn);
        });
      });
    },
    destroy: () => map.remove(),
  };
}
