// The category filter: chips built from /catalog, grouped by the five 宜, and what turning them
// on and off does to the map.
//
// Clusters carry counts of every category, so hiding features on the client would leave wrong
// counts. Instead the facilities source is switched to the server's filtered TileJSON
// (`/tiles/facilities.json?categories=a,b`), whose tiles are clustered from the chosen
// categories only; single facilities are also filtered on the client so they disappear at once.
//
// A static PMTiles archive (pmtiles://) has no filtered variant: then single facilities are
// filtered on `category` and clusters are kept when they hold any chosen category, but a
// cluster's count is still of every category.

import { el, replace, swatch } from './dom.js';
import { t, label, onLangChange } from './i18n.js';

export const FACILITY_SOURCE = 'facilities';

/** What planner mode asks the server for (`?status=`). */
export const PLANNER_STATUSES = 'existing,under_construction,planned';

export class CategoryFilter {
  /**
   * @param {object} catalog  the /catalog answer
   * @param {HTMLElement} container  where the chips go
   * @param {(enabled: Set<string>) => void} onChange
   */
  constructor(catalog, container, onChange) {
    this.categories = catalog.categories || [];
    this.groups = catalog.groups || [];
    this.container = container;
    this.onChange = onChange;
    this.enabled = new Set(this.categories.map((c) => c.id));
    // Planner mode: facilities under construction and planned are shown too (drawn hollow or
    // ringed by the style); residents see existing facilities only.
    this.planner = false;
    this.footer = el('div', { className: 'category-footer' });
    this.render();
    onLangChange(() => this.render());
  }

  get allIds() {
    return this.categories.map((c) => c.id);
  }

  isAll() {
    return this.enabled.size === this.categories.length;
  }

  category(id) {
    return this.categories.find((c) => c.id === id);
  }

  set(ids) {
    this.enabled = new Set(ids.filter((id) => this.category(id)));
    this.render();
    this.onChange(this.enabled);
  }

  toggle(id) {
    const next = new Set(this.enabled);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    this.set([...next]);
  }

  render() {
    const groupIds = this.groups.map((g) => g.id);
    const orphans = this.categories.filter((c) => !groupIds.includes(c.group));
    const sections = this.groups
      .map((group) => [group, this.categories.filter((c) => c.group === group.id)])
      .concat(orphans.length ? [[null, orphans]] : [])
      .filter(([, members]) => members.length > 0)
      .map(([group, members]) => {
        const ids = members.map((c) => c.id);
        const allOn = ids.every((id) => this.enabled.has(id));
        return el(
          'section',
          { className: 'category-group', dataset: { group: group ? group.id : '' } },
          el(
            'h3',
            {},
            el(
              'button',
              {
                type: 'button',
                className: 'group-toggle',
                'aria-pressed': String(allOn),
                onclick: () => {
                  const next = new Set(this.enabled);
                  for (const id of ids) allOn ? next.delete(id) : next.add(id);
                  this.set([...next]);
                },
              },
              group ? label(group) : '',
              group && getGroupSecondary(group),
            ),
          ),
          el(
            'div',
            { className: 'chips' },
            members.map((c) =>
              el(
                'button',
                {
                  type: 'button',
                  className: 'chip',
                  dataset: { category: c.id },
                  'aria-pressed': String(this.enabled.has(c.id)),
                  title: `${c.label_zh} · ${c.label_en}`,
                  onclick: () => this.toggle(c.id),
                },
                swatch(c.color),
                el('span', { className: 'chip-label' }, label(c)),
                el('span', { className: 'chip-count' }, t('n_facilities', { n: c.n_facilities ?? '' })),
              ),
            ),
          ),
        );
      });
    replace(
      this.container,
      el(
        'div',
        { className: 'category-actions' },
        el('button', { type: 'button', className: 'link-button', id: 'categories-all', onclick: () => this.set(this.allIds) }, t('all')),
        el('button', { type: 'button', className: 'link-button', id: 'categories-none', onclick: () => this.set([]) }, t('none')),
        el(
          'label',
          { className: 'planner-toggle', title: t('planner_hint') },
          el('input', {
            type: 'checkbox',
            id: 'planner-mode',
            checked: this.planner,
            onchange: (e) => {
              this.planner = e.target.checked;
              this.onChange(this.enabled);
            },
          }),
          t('planner_mode'),
        ),
      ),
      sections,
      this.footer,
    );
  }
}

/** The group's label in the other language, small, so both are visible. */
function getGroupSecondary(group) {
  const other = document.documentElement.lang === 'en' ? group.label_zh : group.label_en;
  return other ? el('small', {}, other) : null;
}

/**
 * Shows only `enabled` categories on `map`. `baseUrl` is the facilities TileJSON URL of the
 * style, switched to its filtered variant; null when the map reads a static archive, which is
 * filtered on the client only. `baseFilters`: the style's own filters of the facility layers
 * (by layer id).
 */
export function applyCategories(map, enabled, allIds, baseUrl, baseFilters, planner = false) {
  const source = map.getSource(FACILITY_SOURCE);
  if (!source) return;
  const layers = map.getStyle().layers.filter((l) => l.source === FACILITY_SOURCE);
  const visible = enabled.size > 0;
  for (const layer of layers) {
    map.setLayoutProperty(layer.id, 'visibility', visible ? 'visible' : 'none');
  }
  if (!visible) return;
  if (baseUrl) {
    const url = new URL(baseUrl, location.href);
    if (enabled.size < allIds.length) {
      url.searchParams.set('categories', allIds.filter((id) => enabled.has(id)).join(','));
    }
    if (planner) url.searchParams.set('status', PLANNER_STATUSES);
    if (source.url !== url.href) source.setUrl(url.href);
  }
  // Single facilities (not clusters) disappear at once, before the filtered tiles arrive.
  const only = ['in', ['get', 'category'], ['literal', [...enabled]]];
  // From an archive (no baseUrl), clusters holding none of the chosen categories go too.
  const anyChosen = ['any', ...[...enabled].map((id) => ['has', `n_${id}`])];
  for (const layer of layers) {
    const base = baseFilters[layer.id];
    if (isClusterFilter(base)) {
      if (!baseUrl) map.setFilter(layer.id, enabled.size < allIds.length ? ['all', base, anyChosen] : base);
      continue;
    }
    map.setFilter(layer.id, base ? ['all', base, only] : only);
  }
}

/** Does a layer filter select clusters (`["has", "point_count"]`)? */
export function isClusterFilter(filter) {
  return Array.isArray(filter) && filter[0] === 'has' && filter[1] === 'point_count';
}
