// The coverage overlay: a heatmap of walking time to the nearest facility of a category, or of how
// many categories are within their threshold (composite), for the standard or the elderly
// walking profile; its legend (/coverage/legend) and statistics per subdistrict (/coverage/stats).

import { el, replace, swatch, fetchJson } from './dom.js';
import { t, label, formatPercent, formatNumber, onLangChange, getLang } from './i18n.js';

export const COVERAGE_SOURCE = 'coverage';
export const COVERAGE_LAYER = 'coverage-heatmap';
const OPACITY = 0.7;

export class Coverage {
  /**
   * @param {object} options
   *   map, catalog, container
   *   beforeLayer(): id of the layer the heatmap goes under (the facilities), or undefined
   */
  constructor({ map, catalog, container, beforeLayer }) {
    Object.assign(this, { map, catalog, container, beforeLayer });
    this.info = catalog.coverage || null;
    this.visible = false;
    this.id = 'all';
    this.profile = this.info ? this.info.default_profile : null;
    this.legend = null;
    this.legendError = null;
    this.stats = new Map();
    this.statsError = null;
    this.tileError = null;
    map.on('error', (event) => {
      if (event.sourceId === COVERAGE_SOURCE && this.visible) {
        this.tileError = event.error ? event.error.message : 'error';
        this.render();
      }
    });
    onLangChange(() => this.render());
    this.render();
  }

  measures() {
    const ids = this.info ? this.info.ids || [] : [];
    const categories = this.catalog.categories || [];
    const groups = this.catalog.groups || [];
    return ids.map((entry) => {
      const category = categories.find((c) => c.id === entry.id);
      const group = groups.find((g) => g.id === entry.id);
      const name = entry.id === 'all' ? t('coverage_all') : category ? label(category) : group ? label(group) : entry.id;
      return { id: entry.id, kind: entry.kind, name, category, group };
    });
  }

  measure() {
    return this.measures().find((m) => m.id === this.id) || { id: this.id, kind: 'composite', name: this.id };
  }

  setVisible(on) {
    this.visible = on;
    this.tileError = null;
    this.apply();
    if (on) this.loadLegendAndStats();
    this.render();
  }

  setMeasure(id) {
    this.id = id;
    this.tileError = null;
    this.apply();
    this.loadLegendAndStats();
    this.render();
  }

  setProfile(profile) {
    this.profile = profile;
    this.tileError = null;
    this.apply();
    this.loadLegendAndStats();
    this.render();
  }

  /** Puts the heatmap on the map as configured (again after a style change). */
  apply() {
    const map = this.map;
    if (map.getLayer(COVERAGE_LAYER)) map.removeLayer(COVERAGE_LAYER);
    if (map.getSource(COVERAGE_SOURCE)) map.removeSource(COVERAGE_SOURCE);
    if (!this.visible || !this.info) return;
    const params = new URLSearchParams({ profile: this.profile });
    map.addSource(COVERAGE_SOURCE, {
      type: 'raster',
      url: new URL(`/coverage/${encodeURIComponent(this.id)}.json?${params}`, location.href).href,
      tileSize: 256,
    });
    map.addLayer(
      { id: COVERAGE_LAYER, type: 'raster', source: COVERAGE_SOURCE, paint: { 'raster-opacity': OPACITY, 'raster-resampling': 'nearest' } },
      this.beforeLayer(),
    );
  }

  async loadLegendAndStats() {
    if (!this.info) return;
    const key = `${this.id}/${this.profile}`;
    this.legendKey = key;
    const legendParams = new URLSearchParams({ id: this.id, profile: this.profile });
    const statsParams = new URLSearchParams({ profile: this.profile });
    const legend = fetchJson(`/coverage/legend?${legendParams}`)
      .then(({ body }) => {
        if (this.legendKey !== key) return;
        this.legend = body;
        this.legendError = null;
      })
      .catch((error) => {
        if (this.legendKey === key) this.legendError = error.message;
      });
    const stats = this.stats.has(this.profile)
      ? Promise.resolve()
      : fetchJson(`/coverage/stats?${statsParams}`)
          .then(({ body }) => {
            this.stats.set(this.profile, body);
            this.statsError = null;
          })
          .catch((error) => {
            this.statsError = error.message;
          });
    await Promise.all([legend, stats]);
    this.render();
  }

  render() {
    if (!this.info) {
      replace(this.container, el('p', { className: 'muted' }, t('coverage_unavailable')));
      return;
    }
    const profiles = this.info.profiles || [];
    const measures = this.measures();
    replace(
      this.container,
      el(
        'label',
        { className: 'switch' },
        el('input', {
          type: 'checkbox',
          id: 'coverage-toggle',
          checked: this.visible,
          onchange: (event) => this.setVisible(event.target.checked),
        }),
        el('span', {}, t('coverage_show')),
      ),
      el(
        'div',
        { className: 'field' },
        el('label', { for: 'coverage-measure' }, t('coverage_measure')),
        el(
          'select',
          { id: 'coverage-measure', onchange: (event) => this.setMeasure(event.target.value) },
          measureOptions(measures, this.id),
        ),
      ),
      el(
        'div',
        { className: 'field' },
        el('span', { className: 'field-label' }, t('coverage_profile')),
        el(
          'div',
          { className: 'segmented', role: 'group' },
          profiles.map((p) =>
            el(
              'button',
              {
                type: 'button',
                dataset: { profile: p.id },
                'aria-pressed': String(p.id === this.profile),
                onclick: () => this.setProfile(p.id),
              },
              label(p),
            ),
          ),
        ),
      ),
      this.tileError ? el('p', { className: 'error' }, t('coverage_failed', { error: this.tileError })) : null,
      this.visible ? this.renderLegend() : null,
      this.renderStats(),
    );
  }

  renderLegend() {
    if (this.legendError) return el('p', { className: 'error' }, t('coverage_failed', { error: this.legendError }));
    const legend = this.legend;
    if (!legend) return el('p', { className: 'muted' }, t('loading'));
    const measure = this.measure();
    const mode = legend.mode === 'network' ? t('coverage_mode_network') : t('coverage_mode_euclidean');
    if (measure.kind === 'category') {
      const steps = legend.time.steps || [];
      const max = legend.ramp_max_min ?? steps.length;
      const ticks = [0, ...(legend.band_minutes || []), max].filter((v, i, a) => a.indexOf(v) === i && v <= max);
      const threshold = (legend.thresholds || []).find((th) => th.category === measure.id);
      const stripes = el('span', { className: 'legend-swatch' });
      const [a, b] = legend.time.unreachable.colors || ['#888', '#ccc'];
      stripes.style.backgroundImage = `repeating-linear-gradient(45deg, ${a} 0 4px, ${b} 4px 8px)`;
      return el(
        'div',
        { className: 'legend', id: 'coverage-legend' },
        el('div', { className: 'legend-title' }, t('coverage_legend_time', { label: measure.name })),
        el('div', { className: 'legend-bar' }, steps.map((s) => cell(s.color))),
        el(
          'div',
          { className: 'legend-ticks' },
          ticks.map((v) => {
            const tick = el('span', {}, String(v));
            tick.style.left = `${(v / max) * 100}%`;
            return tick;
          }),
        ),
        el(
          'div',
          { className: 'legend-extra' },
          el('span', {}, swatch(legend.time.far.color, 'legend-swatch'), t('coverage_far', { n: max })),
          el('span', {}, stripes, t('coverage_unreachable')),
        ),
        threshold
          ? el('div', { className: 'legend-note' }, t('coverage_threshold', { min: threshold.walk_min, m: Math.round(threshold.walk_m) }))
          : null,
        el('div', { className: 'legend-note' }, `${label(legend.profile)} · ${mode}`),
      );
    }
    const composite = (legend.composites || []).find((c) => c.id === measure.id) || (legend.composites || [])[0];
    if (!composite) return null;
    return el(
      'div',
      { className: 'legend', id: 'coverage-legend' },
      el('div', { className: 'legend-title' }, t('coverage_legend_score', { n: composite.n_categories })),
      el('div', { className: 'legend-bar' }, composite.steps.map((s) => cell(s.color))),
      el(
        'div',
        { className: 'legend-scores' },
        composite.steps.map((s) => el('span', {}, String(s.score))),
      ),
      el('div', { className: 'legend-note' }, `${label(legend.profile)} · ${mode}`),
    );
  }

  /** The headline figure, and the essential categories it leaves out for having no data. */
  renderHeadline(headline) {
    if (!headline) return null;
    const counted = (headline.essential_categories || []).length > 0;
    const missing = (headline.without_data || []).map((id) => {
      const category = (this.catalog.categories || []).find((c) => c.id === id);
      return category ? label(category) : id;
    });
    const separator = getLang() === 'en' ? ', ' : '、';
    return el(
      'div',
      { className: 'headline', id: 'coverage-headline' },
      el('p', {}, counted ? t('stats_headline', { share: formatPercent(headline.population_share) }) : t('stats_headline_none')),
      missing.length > 0
        ? el('p', { className: 'without-data', id: 'coverage-without-data' }, t('stats_without_data', { categories: missing.join(separator) }))
        : null,
    );
  }

  renderStats() {
    if (this.statsError) return el('p', { className: 'error' }, t('coverage_failed', { error: this.statsError }));
    const stats = this.stats.get(this.profile);
    if (!stats) {
      return el(
        'button',
        { type: 'button', className: 'link-button', id: 'coverage-stats-load', onclick: () => this.loadLegendAndStats() },
        t('stats_title'),
      );
    }
    const measure = this.measure();
    const share = (area) => {
      let s;
      if (measure.kind === 'category') s = area.categories && area.categories[measure.id];
      else if (measure.id === 'all') s = area.composite && area.composite.all;
      else s = area.composite && area.composite.groups && area.composite.groups[measure.id];
      if (!s) return null;
      return s.population_share ?? s.area_share ?? null;
    };
    // For a composite, how many categories are within reach on average (people-weighted) says
    // more than the share of people who reach every one of them.
    const meanScore = (area) => {
      if (measure.kind === 'category' || !area.composite) return null;
      if (measure.id === 'all') return area.composite.mean_score_population ?? area.composite.mean_score_area ?? null;
      return null;
    };
    const showMean = measure.id === 'all';
    const rows = [...(stats.subdistricts || [])].sort((x, y) => (share(x) ?? 2) - (share(y) ?? 2));
    const nameOf = (area) => (getLang() === 'en' && area.name_en ? area.name_en : area.name);
    const row = (area, className) => {
      const value = share(area);
      const bar = el('span', { className: 'bar' }, el('span', {}));
      bar.firstChild.style.width = `${Math.round((value ?? 0) * 100)}%`;
      return el(
        'tr',
        { className },
        el('th', { scope: 'row' }, nameOf(area)),
        el('td', { className: 'num' }, formatNumber(area.population)),
        el('td', { className: 'num share' }, bar, formatPercent(value)),
        showMean ? el('td', { className: 'num' }, formatScore(meanScore(area))) : null,
      );
    };
    return el(
      'div',
      { className: 'stats', id: 'coverage-stats' },
      el('h3', {}, t('stats_title'), el('small', {}, measure.name)),
      this.renderHeadline(stats.headline),
      el(
        'table',
        {},
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', {}, t('stats_subdistrict')),
            el('th', { className: 'num' }, t('stats_population')),
            el('th', { className: 'num' }, t('stats_share')),
            showMean ? el('th', { className: 'num', title: t('stats_mean_score_note') }, t('stats_mean_score')) : null,
          ),
        ),
        el('tbody', {}, rows.map((area) => row(area, ''))),
        stats.total ? el('tfoot', {}, row({ ...stats.total, name: t('stats_total'), name_en: t('stats_total') }, 'total')) : null,
      ),
    );
  }
}

function measureOptions(measures, selected) {
  const option = (m) => el('option', { value: m.id, selected: m.id === selected }, m.name);
  const composites = measures.filter((m) => m.kind !== 'category');
  const categories = measures.filter((m) => m.kind === 'category');
  return [
    ...composites.map(option),
    categories.length ? el('optgroup', { label: t('tab_categories') }, categories.map(option)) : null,
  ];
}

function formatScore(value) {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(1);
}

function cell(color) {
  const node = el('span', {});
  node.style.backgroundColor = color;
  return node;
}
