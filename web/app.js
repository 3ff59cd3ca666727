// The life-circle map page: MapLibre GL JS on this server's own style, tiles, search, coverage
// and feedback endpoints. Plain ES modules, no build step; MapLibre GL JS itself is served by
// the server under /assets/maplibre-gl/ (built into the binary from web/package-lock.json).
//
// `window.lifecircle` exposes the page's parts (map, filter, search, popup, coverage) for
// debugging in the browser console and for the browser test.

import { el, replace, byId, fetchJson } from './dom.js';
import { t, applyStatic, setLang, getLang, onLangChange } from './i18n.js';
import { CategoryFilter, applyCategories, FACILITY_SOURCE, isClusterFilter } from './categories.js';
import { Search } from './search.js';
import { FacilityPopup } from './popup.js';
import { Coverage } from './coverage.js';
import { FeedbackForm } from './feedback.js';

const DESKTOP = window.matchMedia('(min-width: 760px)');
const CLICK_TOLERANCE_PX = 8;
const FOCUS_ZOOM = 16;

const page = { ready: false, error: null };
window.lifecircle = page;

main().catch((error) => {
  page.error = String(error && error.message ? error.message : error);
  showNotice([el('p', {}, t('load_failed', { error: page.error }))], 'error');
  console.error(error);
});

async function main() {
  applyStatic();
  setupChrome();
  const [{ body: config }, { body: catalog }] = await Promise.all([
    fetchJson('/assets/config.json'),
    fetchJson('/catalog'),
  ]);
  page.config = config;
  page.catalog = catalog;
  if (!config.maplibre.available) {
    showMissingMaplibre();
    page.ready = true;
    return;
  }
  loadStylesheet(config.maplibre.css);
  const maplibregl = await import(config.maplibre.module);
  page.maplibregl = maplibregl;

  const ownStyle = (await fetchJson(config.style)).body;
  const facilitiesUrl = ownStyle.sources[FACILITY_SOURCE].url;
  const tilejson = (await fetchJson(facilitiesUrl)).body;
  // A static PMTiles copy of the facility tiles (object storage, CDN): the map reads it through
  // pmtiles://. It holds every category, so the filter works on the client.
  const archiveUrl = config.facilities_pmtiles_url && config.pmtiles && config.pmtiles.available
    ? await usePmtiles(maplibregl, config, ownStyle)
    : null;
  page.archiveUrl = archiveUrl;
  const baseFilters = Object.fromEntries(
    ownStyle.layers.filter((l) => l.source === FACILITY_SOURCE).map((l) => [l.id, l.filter]),
  );
  const clusterLayers = ownStyle.layers.filter((l) => l.source === FACILITY_SOURCE && isClusterFilter(l.filter)).map((l) => l.id);
  const pointLayers = ownStyle.layers.filter((l) => l.source === FACILITY_SOURCE && !isClusterFilter(l.filter)).map((l) => l.id);

  const basemap = { choice: config.basemap_style_url ? 'external' : 'own' };
  const style = await buildStyle(ownStyle, config.basemap_style_url, basemap);

  const map = new maplibregl.Map({
    container: 'map',
    style,
    bounds: tilejson.bounds,
    fitBoundsOptions: { padding: viewPadding() },
    maxZoom: 19,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
    attributionControl: { compact: true },
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  page.map = map;
  page.fitData = () => map.fitBounds(tilejson.bounds, { padding: viewPadding(), duration: 0 });

  map.on('error', (event) => {
    // MapLibre logs errors itself only when nobody listens; keep them visible.
    console.error('map error', event.sourceId || '', event.error ? event.error.message : event);
  });

  const popup = new FacilityPopup(map, maplibregl, catalog, (facility) => feedback.open({ facility }));
  const feedback = new FeedbackForm(byId('feedback-dialog'), config.feedback);
  const categories = new CategoryFilter(catalog, byId('tab-categories'), () => applyFilter());
  const coverage = new Coverage({
    map,
    catalog,
    container: byId('tab-coverage'),
    beforeLayer: () => clusterLayers.concat(pointLayers).find((id) => map.getLayer(id)),
  });
  Object.assign(page, { popup, feedback, categories, coverage });

  function applyFilter() {
    applyCategories(map, categories.enabled, categories.allIds, archiveUrl ? null : facilitiesUrl, baseFilters, categories.planner);
  }

  // Device location, used for distances when granted and inside the data's area.
  const device = { position: null, marker: null };
  const origin = () => {
    if (device.position) return { ...device.position, from: 'device' };
    const c = visibleCenter(map);
    return { lon: c.lng, lat: c.lat, from: 'centre' };
  };
  const locate = (interactive) => {
    if (!navigator.geolocation) {
      if (interactive) toast(t('locate_unsupported'));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const lon = position.coords.longitude;
        const lat = position.coords.latitude;
        if (!insideBounds(tilejson.bounds, lon, lat, 0.05)) {
          device.position = null;
          if (interactive) toast(t('locate_denied'));
          return;
        }
        device.position = { lon, lat };
        if (!device.marker) {
          device.marker = new maplibregl.Marker({ element: el('div', { className: 'device-dot', 'aria-label': t('locate') }) });
        }
        device.marker.setLngLat([lon, lat]).addTo(map);
        if (interactive) {
          toast(t('locate_ok'));
          map.flyTo({ center: [lon, lat], zoom: Math.max(map.getZoom(), 15), offset: visibleOffset() });
        }
      },
      () => {
        device.position = null;
        if (interactive) toast(t('locate_denied'));
      },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
    );
  };
  byId('locate-button').addEventListener('click', () => locate(true));
  if (navigator.permissions) {
    navigator.permissions
      .query({ name: 'geolocation' })
      .then((status) => status.state === 'granted' && locate(false))
      .catch(() => {});
  }
  page.origin = origin;

  const selectFacility = (facility) => {
    setPanelExpanded(false);
    // An offset, not `padding`: padding given to a camera move stays on the map afterwards.
    map.flyTo({ center: [facility.lon, facility.lat], zoom: Math.max(map.getZoom(), FOCUS_ZOOM), offset: visibleOffset() });
    popup.open(facility);
  };
  const search = new Search({
    form: byId('search-form'),
    input: byId('search-input'),
    list: byId('suggestions'),
    results: byId('tab-results'),
    catalog,
    origin,
    onResults: () => selectTab('results', true),
    onSelect: selectFacility,
  });
  Object.assign(page, { search, selectFacility });

  // Clicks: a facility opens its popup, a cluster zooms in, or, when reporting, the point is
  // where the problem is.
  const picking = { active: false };
  const stopPicking = () => {
    picking.active = false;
    map.getCanvas().style.cursor = '';
    hideNotice();
  };
  byId('report-point-button').addEventListener('click', () => {
    picking.active = true;
    map.getCanvas().style.cursor = 'crosshair';
    showNotice([el('p', {}, t('report_pick')), el('button', { type: 'button', onclick: stopPicking }, t('cancel'))], 'info');
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && picking.active) stopPicking();
  });
  map.on('click', (event) => {
    if (picking.active) {
      stopPicking();
      feedback.open({ location: { lon: event.lngLat.lng, lat: event.lngLat.lat } });
      return;
    }
    const { x, y } = event.point;
    const box = [
      [x - CLICK_TOLERANCE_PX, y - CLICK_TOLERANCE_PX],
      [x + CLICK_TOLERANCE_PX, y + CLICK_TOLERANCE_PX],
    ];
    const layers = pointLayers.concat(clusterLayers).filter((id) => map.getLayer(id));
    const hits = map.queryRenderedFeatures(box, { layers });
    const distance = (f) => {
      const p = map.project(f.geometry.coordinates);
      return Math.hypot(p.x - x, p.y - y);
    };
    const nearest = (features) => features.sort((a, b) => distance(a) - distance(b))[0];
    const facility = nearest(hits.filter((f) => pointLayers.includes(f.layer.id)));
    if (facility) {
      const [lon, lat] = facility.geometry.coordinates;
      popup.open({ id: facility.properties.id ?? facility.id, lon, lat, props: { ...facility.properties } });
      return;
    }
    const cluster = nearest(hits.filter((f) => clusterLayers.includes(f.layer.id)));
    if (cluster) {
      const zoom = Number(cluster.properties.expansion_zoom) || map.getZoom() + 2;
      map.easeTo({ center: cluster.geometry.coordinates, zoom: Math.min(zoom, map.getMaxZoom()), offset: visibleOffset() });
    }
  });
  for (const id of pointLayers.concat(clusterLayers)) {
    map.on('mouseenter', id, () => {
      if (!picking.active) map.getCanvas().style.cursor = 'pointer';
    });
    map.on('mouseleave', id, () => {
      if (!picking.active) map.getCanvas().style.cursor = '';
    });
  }

  // Cluster counts are drawn as HTML labels: the style has no glyphs (they would need a font
  // server), so symbol layers cannot draw text. Each label is also the cluster's category mix:
  // a ring of the categories' colours (shares of the tile's `n_<category>` counts) around the
  // style's neutral circle, so a dense area shows what it holds rather than one colour.
  const categoryColours = catalog.categories.map((c) => [c.id, c.color]);
  const clusterRadius = clusterRadiusOf(ownStyle, clusterLayers[0]);
  const clusterLabels = new Map();
  const updateClusterLabels = () => {
    const layers = clusterLayers.filter((id) => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
    const features = layers.length ? map.queryRenderedFeatures({ layers }) : [];
    const seen = new Set();
    for (const feature of features) {
      const [lon, lat] = feature.geometry.coordinates;
      const key = `${lon.toFixed(6)},${lat.toFixed(6)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const text = String(feature.properties.point_count_abbreviated ?? feature.properties.point_count);
      let marker = clusterLabels.get(key);
      if (!marker) {
        const count = el('span', { className: 'cluster-count' });
        marker = new maplibregl.Marker({ element: el('div', { className: 'cluster-mix', 'aria-hidden': 'true' }, count) })
          .setLngLat([lon, lat])
          .addTo(map);
        clusterLabels.set(key, marker);
      }
      drawClusterMix(marker.getElement(), feature.properties, text, categoryColours, clusterRadius(Number(feature.properties.point_count) || 1));
    }
    for (const [key, marker] of clusterLabels) {
      if (!seen.has(key)) {
        marker.remove();
        clusterLabels.delete(key);
      }
    }
  };
  const clearClusterLabels = () => {
    for (const marker of clusterLabels.values()) marker.remove();
    clusterLabels.clear();
  };
  map.on('idle', updateClusterLabels);
  map.on('zoomstart', clearClusterLabels);
  map.on('sourcedataloading', (event) => {
    if (event.sourceId === FACILITY_SOURCE && event.sourceDataType === 'metadata') clearClusterLabels();
  });

  // Basemap choice, when an external basemap is configured.
  if (config.basemap_style_url) {
    const select = el(
      'select',
      {
        id: 'basemap-select',
        onchange: async (event) => {
          basemap.choice = event.target.value;
          map.setStyle(await buildStyle(ownStyle, config.basemap_style_url, basemap), { diff: false });
        },
      },
      el('option', { value: 'external' }, t('basemap_external')),
      el('option', { value: 'own' }, t('basemap_own')),
    );
    select.value = basemap.choice;
    const renderBasemap = () =>
      replace(categories.footer, el('div', { className: 'field' }, el('label', { for: 'basemap-select' }, t('basemap')), select));
    renderBasemap();
    onLangChange(() => {
      select.options[0].textContent = t('basemap_external');
      select.options[1].textContent = t('basemap_own');
      renderBasemap();
    });
  }

  // After any style (re)load: filters and the coverage overlay go back on.
  map.on('style.load', () => {
    applyFilter();
    coverage.apply();
  });
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once('load', resolve)));
  byId('report-point-button').hidden = false;
  page.ready = true;
}

/** The style to show: ours, or an external basemap with our facility layers on top. */
/** Registers the pmtiles:// protocol (the `pmtiles` package's script, served by this server) and
 * points the style's facility source at the static archive; gives the archive's pmtiles:// URL. */
async function usePmtiles(maplibregl, config, ownStyle) {
  await new Promise((resolve, reject) => {
    const script = el('script', { src: config.pmtiles.script });
    script.addEventListener('load', resolve);
    script.addEventListener('error', () => reject(new Error(`cannot load ${config.pmtiles.script}`)));
    document.head.append(script);
  });
  const protocol = new window.pmtiles.Protocol();
  maplibregl.addProtocol('pmtiles', protocol.tile);
  const url = `pmtiles://${new URL(config.facilities_pmtiles_url, location.href).href}`;
  ownStyle.sources[FACILITY_SOURCE] = { type: 'vector', url };
  return url;
}

async function buildStyle(ownStyle, externalUrl, basemap) {
  if (!externalUrl || basemap.choice !== 'external') return ownStyle;
  try {
    const external = (await fetchJson(externalUrl)).body;
    const ours = ownStyle.layers.filter((l) => l.source === FACILITY_SOURCE);
    const ourIds = new Set(ours.map((l) => l.id));
    return {
      ...external,
      sources: { ...external.sources, [FACILITY_SOURCE]: ownStyle.sources[FACILITY_SOURCE] },
      // Our facility layers go on top; an external layer with the same id gives way.
      layers: external.layers.filter((l) => !ourIds.has(l.id) && l.source !== FACILITY_SOURCE).concat(ours),
    };
  } catch {
    basemap.choice = 'own';
    toast(t('basemap_failed'));
    const select = byId('basemap-select');
    if (select) select.value = 'own';
    return ownStyle;
  }
}

function insideBounds([west, south, east, north], lon, lat, margin) {
  return lon >= west - margin && lon <= east + margin && lat >= south - margin && lat <= north + margin;
}

/** Where the middle of the part of the map not covered by the panel and top bar is, relative
 * to the middle of the map, in pixels. */
function visibleOffset() {
  const p = viewPadding();
  return [(p.left - p.right) / 2, (p.top - p.bottom) / 2];
}

/** The geographic point in the middle of the uncovered part of the map. */
function visibleCenter(map) {
  const canvas = map.getCanvas();
  const [dx, dy] = visibleOffset();
  return map.unproject([canvas.clientWidth / 2 + dx, canvas.clientHeight / 2 + dy]);
}

/** Map padding that keeps the data clear of the panel and the top bar. */
function viewPadding() {
  const top = (document.querySelector('.topbar')?.offsetHeight || 56) + 12;
  if (DESKTOP.matches) {
    const panel = byId('panel');
    return { top, bottom: 24, left: (panel ? panel.offsetWidth : 340) + 24, right: 56 };
  }
  return { top, bottom: 24, left: 16, right: 16 };
}

// ---------------------------------------------------------------- page chrome

function setupChrome() {
  byId('lang-button').addEventListener('click', () => setLang(getLang() === 'zh' ? 'en' : 'zh'));
  byId('lang-button').title = t('lang_switch_label');
  onLangChange(() => (byId('lang-button').title = t('lang_switch_label')));
  for (const tab of document.querySelectorAll('.tab')) {
    tab.addEventListener('click', () => {
      const already = tab.getAttribute('aria-selected') === 'true';
      const expanded = byId('panel').dataset.expanded === 'true';
      selectTab(tab.dataset.tab, !(already && expanded));
    });
  }
  byId('panel-toggle').addEventListener('click', () => setPanelExpanded(byId('panel').dataset.expanded !== 'true'));
}

function selectTab(name, expand) {
  for (const tab of document.querySelectorAll('.tab')) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute('aria-selected', String(selected));
    byId(`tab-${tab.dataset.tab}`).hidden = !selected;
  }
  setPanelExpanded(expand);
}

/** The panel is a bottom sheet on a phone: collapsed to its tabs, or expanded. */
function setPanelExpanded(expanded) {
  byId('panel').dataset.expanded = String(expanded);
}

function loadStylesheet(href) {
  document.head.appendChild(el('link', { rel: 'stylesheet', href }));
}

function showNotice(children, kind) {
  const notice = byId('notice');
  notice.className = `notice ${kind}`;
  replace(notice, children);
  notice.hidden = false;
}

function hideNotice() {
  byId('notice').hidden = true;
}

let toastTimer = null;
function toast(text) {
  const node = byId('toast');
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 4000);
}

function showMissingMaplibre() {
  // Without a map, the panel, search and location controls would only look broken.
  document.body.classList.add('no-map');
  const render = () =>
    showNotice(
      [
        el('h2', {}, t('maplibre_missing_title')),
        el('p', {}, t('maplibre_missing')),
        el('p', {}, el('code', {}, page.config.maplibre.install_hint)),
      ],
      'warning maplibre-missing',
    );
  render();
  onLangChange(render);
}

/**
 * Draws a cluster's label: the count over a ring whose arcs are the categories' shares of the
 * cluster (`n_<category>`), in the taxonomy's order and colours. Styles are set through the
 * CSSOM (allowed by the page's content security policy; no markup is parsed).
 */
function drawClusterMix(node, properties, text, categoryColours, radius) {
  const total = categoryColours.reduce((sum, [id]) => sum + (Number(properties[`n_${id}`]) || 0), 0);
  const stops = [];
  let from = 0;
  for (const [id, colour] of categoryColours) {
    const n = Number(properties[`n_${id}`]) || 0;
    if (!n || !total) continue;
    const to = from + (n / total) * 360;
    stops.push(`${colour} ${from.toFixed(2)}deg ${to.toFixed(2)}deg`);
    from = to;
  }
  const size = Math.round(2 * (radius + CLUSTER_RING_PX));
  node.style.width = `${size}px`;
  node.style.height = `${size}px`;
  node.style.background = stops.length ? `conic-gradient(${stops.join(', ')})` : 'transparent';
  node.dataset.categories = String(stops.length);
  node.firstChild.textContent = text;
}

/** Width of the category ring around a cluster's circle, in pixels. */
const CLUSTER_RING_PX = 4;

/**
 * The cluster circle's radius in pixels for a point count, read from the style's
 * `circle-radius` (an `interpolate` over `point_count`), so the ring fits the circle drawn.
 */
function clusterRadiusOf(style, layerId) {
  const layer = style.layers.find((l) => l.id === layerId);
  const expr = layer && layer.paint && layer.paint['circle-radius'];
  if (!Array.isArray(expr) || expr[0] !== 'interpolate') return () => 12;
  const stops = [];
  for (let i = 3; i + 1 < expr.length; i += 2) stops.push([Number(expr[i]), Number(expr[i + 1])]);
  return (count) => {
    if (count <= stops[0][0]) return stops[0][1];
    for (let i = 1; i < stops.length; i++) {
      const [x1, y1] = stops[i];
      const [x0, y0] = stops[i - 1];
      if (count <= x1) return y0 + ((count - x0) / (x1 - x0)) * (y1 - y0);
    }
    return stops[stops.length - 1][1];
  };
}
