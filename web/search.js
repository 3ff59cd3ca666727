// The search box: suggestions while typing (/search/suggest), a results list (/search) with
// distance and walking minutes from the device location when the browser gave it, else from the
// map centre, and selecting a result.

import { el, replace, swatch, fetchJson } from './dom.js';
import { t, label, facilityName, formatDistance, onLangChange } from './i18n.js';

const RESULT_LIMIT = 20;

export class Search {
  /**
   * @param {object} options
   *   form, input, list: the search form, its input and the suggestion list
   *   results: container of the results list
   *   catalog: /catalog
   *   origin(): {lon, lat, from: 'device'|'centre'}
   *   onResults(): called when results are shown (to switch to their tab)
   *   onSelect(facility): a result was chosen
   */
  constructor({ form, input, list, results, catalog, origin, onResults, onSelect }) {
    Object.assign(this, { form, input, list, results, catalog, origin, onResults, onSelect });
    this.suggestions = [];
    this.active = -1;
    this.lastResults = null;
    // Answers that arrive after a newer request (or after a search) are dropped.
    this.suggestSeq = 0;
    this.searchSeq = 0;
    this.suggestTimer = null;
    input.addEventListener('input', () => {
      clearTimeout(this.suggestTimer);
      this.suggestTimer = setTimeout(() => this.suggest(), 150);
    });
    input.addEventListener('keydown', (event) => this.onKey(event));
    input.addEventListener('blur', () => setTimeout(() => this.hideSuggestions(), 150));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = this.suggestions[this.active];
      if (chosen) this.choose(chosen);
      else this.run({ q: input.value.trim() });
    });
    onLangChange(() => this.renderResults());
    this.renderResults();
  }

  async suggest() {
    const q = this.input.value.trim();
    const seq = ++this.suggestSeq;
    if (!q) {
      this.hideSuggestions();
      return;
    }
    try {
      const { body } = await fetchJson(`/search/suggest?${new URLSearchParams({ q })}`);
      if (seq !== this.suggestSeq) return;
      this.showSuggestions(body.suggestions || []);
    } catch {
      if (seq === this.suggestSeq) this.hideSuggestions();
    }
  }

  showSuggestions(suggestions) {
    this.suggestions = suggestions;
    this.active = -1;
    replace(
      this.list,
      suggestions.map((s, i) => {
        const category = s.category && this.categoryOf(s.category);
        return el(
          'li',
          {
            role: 'option',
            id: `suggestion-${i}`,
            className: 'suggestion',
            dataset: { kind: s.kind || '' },
            // mousedown, not click: it comes before the input's blur.
            onmousedown: (event) => {
              event.preventDefault();
              this.choose(s);
            },
          },
          category ? swatch(category.color) : el('span', { className: 'swatch' }),
          el('span', { className: 'suggestion-text' }, s.text),
          s.kind === 'category'
            ? el('span', { className: 'suggestion-meta' }, `${t('suggest_category')} · ${t('n_facilities', { n: s.n_facilities ?? '' })}`)
            : category
              ? el('span', { className: 'suggestion-meta' }, label(category))
              : null,
        );
      }),
    );
    this.list.hidden = suggestions.length === 0;
    this.input.setAttribute('aria-expanded', String(!this.list.hidden));
  }

  hideSuggestions() {
    this.list.hidden = true;
    this.suggestions = [];
    this.active = -1;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  onKey(event) {
    if (this.list.hidden || !this.suggestions.length) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const n = this.suggestions.length;
      this.active = event.key === 'ArrowDown' ? (this.active + 1) % n : (this.active - 1 + n) % n;
      this.list.querySelectorAll('.suggestion').forEach((node, i) => node.setAttribute('aria-selected', String(i === this.active)));
      this.input.setAttribute('aria-activedescendant', `suggestion-${this.active}`);
    } else if (event.key === 'Escape') {
      this.hideSuggestions();
    }
  }

  choose(suggestion) {
    this.input.value = suggestion.text;
    if (suggestion.kind === 'category' && suggestion.category) {
      this.run({ category: suggestion.category, q: '' });
    } else {
      this.run({ q: suggestion.text });
    }
  }

  /** Runs a search for `q` (text) and/or `category`, measuring from `origin()`. */
  async run({ q = '', category = null }) {
    clearTimeout(this.suggestTimer);
    this.suggestSeq++;
    this.hideSuggestions();
    if (!q && !category) return;
    const origin = this.origin();
    const params = new URLSearchParams({ limit: String(RESULT_LIMIT) });
    if (q) params.set('q', q);
    if (category) params.set('category', category);
    params.set('near', `${origin.lon.toFixed(6)},${origin.lat.toFixed(6)}`);
    const seq = ++this.searchSeq;
    this.lastResults = { state: 'loading', q, category, origin };
    this.renderResults();
    this.onResults();
    try {
      const { body } = await fetchJson(`/search?${params}`);
      if (seq !== this.searchSeq) return;
      this.lastResults = { state: 'ready', q, category, origin, body };
    } catch (error) {
      if (seq !== this.searchSeq) return;
      this.lastResults = { state: 'error', q, category, origin, error };
    }
    this.renderResults();
  }

  categoryOf(id) {
    return (this.catalog.categories || []).find((c) => c.id === id);
  }

  renderResults() {
    const r = this.lastResults;
    if (!r) {
      replace(this.results, el('p', { className: 'muted' }, t('search_placeholder')));
      return;
    }
    if (r.state === 'loading') {
      replace(this.results, el('p', { className: 'muted' }, t('loading')));
      return;
    }
    if (r.state === 'error') {
      const message = r.error.status === 404 ? t('search_unavailable') : t('search_failed', { error: r.error.message });
      replace(this.results, el('p', { className: 'error' }, message));
      return;
    }
    const features = r.body.features || [];
    const total = r.body.total ?? features.length;
    const category = r.category && this.categoryOf(r.category);
    const heading = category
      ? t('results_for_category', { label: label(category), n: total })
      : t('results_for', { q: r.q, n: total });
    replace(
      this.results,
      el('div', { className: 'results-head' }, heading, total > features.length ? ` (${t('results_shown', { n: features.length })})` : ''),
      el(
        'div',
        { className: 'results-origin', title: t('straight_line_note') },
        r.origin.from === 'device' ? t('from_device') : t('from_centre'),
      ),
      features.length === 0 ? el('p', { className: 'muted' }, t('no_results')) : null,
      el(
        'ol',
        { className: 'results' },
        features.map((feature) => {
          const facility = toFacility(feature, r.origin.from);
          const p = facility.props;
          const c = this.categoryOf(p.category);
          return el(
            'li',
            {},
            el(
              'button',
              {
                type: 'button',
                className: 'result',
                dataset: { facilityId: String(facility.id) },
                onclick: () => this.onSelect(facility),
              },
              swatch(c ? c.color : p.color),
              el(
                'span',
                { className: 'result-body' },
                el('span', { className: 'result-name' }, facilityName(p)),
                el('span', { className: 'result-meta' }, [c ? label(c) : p.category, p.address].filter(Boolean).join(' · ')),
              ),
              facility.distance
                ? el(
                    'span',
                    { className: 'result-distance' },
                    el('strong', {}, formatDistance(facility.distance.m)),
                    el('span', {}, t('walk_min', { min: Math.max(1, Math.round(facility.distance.min)) })),
                  )
                : null,
            ),
          );
        }),
      ),
    );
  }
}

/** A GeoJSON facility (from /search or /features) as the page's facility object. */
export function toFacility(feature, from = 'centre') {
  const props = { ...(feature.properties || {}) };
  const [lon, lat] = feature.geometry.coordinates;
  const distance = Number.isFinite(props.distance_m) ? { m: props.distance_m, min: props.walk_minutes, from } : null;
  return { id: props.id ?? feature.id, lon, lat, props, distance };
}
