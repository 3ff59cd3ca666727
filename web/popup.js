// The facility popup: name, category, address, distance when known, a navigation arrow that
// offers the third-party map apps of the facility's `links` (from /features/{id}), and
// "Report a problem". Every value from the data is set as text.

import { el, replace, swatch, fetchJson } from './dom.js';
import { t, label, facilityName, formatDistance, onLangChange, getLang } from './i18n.js';

const NAV_APPS = ['amap', 'baidu', 'tencent', 'apple', 'osm'];

/** A facility as the page handles it: {id, lon, lat, props, distance?: {m, min, from}}. */
export class FacilityPopup {
  constructor(map, maplibregl, catalog, onReport) {
    this.map = map;
    this.maplibregl = maplibregl;
    this.catalog = catalog;
    this.onReport = onReport;
    this.popup = null;
    this.facility = null;
    this.navOpen = false;
    this.linksState = 'idle';
    onLangChange(() => this.render());
  }

  /** Opens the popup of `facility`, fetching its full record (links, subdistrict) when missing. */
  open(facility) {
    this.close();
    this.facility = facility;
    this.navOpen = false;
    this.linksState = facility.props.links ? 'ready' : 'idle';
    this.content = el('div', { className: 'popup', dataset: { facilityId: String(facility.id) } });
    this.popup = new this.maplibregl.Popup({ maxWidth: '300px', focusAfterOpen: false, className: 'facility-popup' })
      .setLngLat([facility.lon, facility.lat])
      .setDOMContent(this.content)
      .addTo(this.map);
    this.popup.on('close', () => {
      if (this.facility === facility) this.facility = null;
    });
    this.render();
  }

  close() {
    if (this.popup) this.popup.remove();
    this.popup = null;
    this.facility = null;
  }

  async loadDetails(facility) {
    try {
      const { body } = await fetchJson(`/features/${encodeURIComponent(facility.id)}`);
      if (this.facility !== facility) return;
      facility.props = { ...facility.props, ...(body.properties || {}) };
      this.linksState = facility.props.links ? 'ready' : 'unavailable';
    } catch {
      if (this.facility !== facility) return;
      this.linksState = 'unavailable';
    }
    this.render();
  }

  render() {
    const facility = this.facility;
    if (!facility || !this.content) return;
    const p = facility.props;
    const category = (this.catalog.categories || []).find((c) => c.id === p.category);
    const group = category && (this.catalog.groups || []).find((g) => g.id === category.group);
    const categoryLabel = category
      ? label(category)
      : getLang() === 'en'
        ? p.category_label_en || p.category
        : p.category_label_zh || p.category;
    const otherName = getLang() === 'en' ? (p.name_en ? p.name : null) : p.name_en;
    const links = p.links || {};
    const navItems = NAV_APPS.filter((app) => isWebUrl(links[app])).map((app) =>
      el(
        'li',
        {},
        el('a', { href: links[app], target: '_blank', rel: 'noopener noreferrer', dataset: { app } }, t(`nav_${app}`)),
      ),
    );
    replace(
      this.content,
      el(
        'div',
        { className: 'popup-category' },
        swatch(category ? category.color : p.color),
        el('span', {}, categoryLabel),
        group ? el('span', { className: 'popup-group' }, label(group)) : null,
      ),
      el('h3', { className: 'popup-name' }, facilityName(p)),
      otherName ? el('div', { className: 'popup-name-other' }, otherName) : null,
      p.address ? el('div', { className: 'popup-address' }, p.address) : null,
      p.subdistrict ? el('div', { className: 'popup-subdistrict' }, p.subdistrict) : null,
      p.status && p.status !== 'existing'
        ? el('div', { className: 'popup-status' }, t(`status_${p.status}`) + (p.year ? ` · ${p.year}` : ''))
        : null,
      functionsText(p) ? el('div', { className: 'popup-functions' }, functionsText(p)) : null,
      facility.distance && Number.isFinite(facility.distance.m)
        ? el(
            'div',
            { className: 'popup-distance' },
            t('distance_walk', { distance: formatDistance(facility.distance.m), min: Math.max(1, Math.round(facility.distance.min)) }),
          )
        : null,
      el(
        'div',
        { className: 'popup-actions' },
        el(
          'button',
          {
            type: 'button',
            className: 'nav-button',
            'aria-expanded': String(this.navOpen),
            onclick: () => {
              this.navOpen = !this.navOpen;
              // Links come with search results; for a facility tapped on the map they are
              // fetched the first time the arrow is used.
              if (this.navOpen && this.linksState === 'idle') {
                this.linksState = 'loading';
                this.loadDetails(facility);
              }
              this.render();
            },
          },
          navArrow(),
          t('navigate'),
        ),
        el(
          'button',
          { type: 'button', className: 'report-button', onclick: () => this.onReport(facility) },
          t('report'),
        ),
      ),
      this.navOpen
        ? el(
            'div',
            { className: 'nav-links' },
            this.linksState === 'loading'
              ? t('loading')
              : navItems.length
                ? [el('div', { className: 'nav-title' }, t('navigate_with')), el('ul', {}, navItems)]
                : t('nav_unavailable'),
          )
        : null,
    );
  }
}

function isWebUrl(value) {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function navArrow() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M3 11 21 3 13 21 11 13Z');
  svg.appendChild(path);
  return svg;
}

/** A facility's functions (a list from /features, or `;`-joined in tiles), as one line. */
function functionsText(p) {
  const list = Array.isArray(p.functions) ? p.functions : String(p.functions || '').split(';');
  return list.filter((f) => f).join('、');
}
