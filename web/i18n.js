// The page's words in Chinese (the default) and English, and number formatting. Category and
// group labels come from /catalog, not from here.

const STRINGS = {
  zh: {
    title: '15分钟社区生活圈',
    subtitle: '长宁区',
    search_placeholder: '搜索设施、地址或类别，如“买菜”',
    search: '搜索',
    locate: '我的位置',
    lang_switch: 'EN',
    lang_switch_label: 'Switch to English',
    tab_categories: '设施',
    tab_results: '搜索结果',
    tab_coverage: '覆盖评估',
    panel_toggle: '展开或收起面板',
    all: '全选',
    none: '全不选',
    planner_mode: '规划视图',
    status_under_construction: '在建',
    status_planned: '规划',
    status_closed: '已关闭',
    planner_hint: '同时显示在建（橙色圈）与规划（空心）设施',
    n_facilities: '{n} 处',
    basemap: '底图',
    basemap_own: '本地数据底图',
    basemap_external: '外部底图',
    basemap_failed: '外部底图无法加载，已改用本地数据底图。',
    loading: '加载中…',
    no_results: '没有找到相关设施。',
    results_for: '“{q}”的结果：{n} 个',
    results_for_category: '{label}：{n} 个',
    results_shown: '显示前 {n} 个',
    from_centre: '距离从地图中心算起',
    from_device: '距离从您的位置算起',
    distance_walk: '{distance} · 步行约 {min} 分钟',
    walk_min: '步行约 {min} 分钟',
    straight_line_note: '直线距离；沿街步行通常更远',
    search_unavailable: '此服务器未提供搜索功能。',
    search_failed: '搜索失败：{error}',
    suggest_category: '类别',
    locate_denied: '无法获取您的位置，距离将从地图中心算起。',
    locate_unsupported: '此浏览器不支持定位。',
    locate_ok: '已定位到您的位置。',
    navigate: '导航',
    navigate_with: '用以下地图导航：',
    nav_amap: '高德地图',
    nav_baidu: '百度地图',
    nav_tencent: '腾讯地图',
    nav_apple: 'Apple 地图',
    nav_osm: 'OpenStreetMap',
    nav_unavailable: '导航链接暂不可用。',
    report: '报告问题',
    report_here: '报告地图问题',
    report_pick: '请点击地图上有问题的位置（按 Esc 取消）。',
    cancel: '取消',
    address: '地址',
    subdistrict: '街道',
    coverage_unavailable: '此服务器未提供覆盖评估。',
    coverage_show: '显示覆盖热力图',
    coverage_measure: '指标',
    coverage_all: '全部类别（综合）',
    coverage_profile: '步行人群',
    coverage_legend_time: '到最近{label}的步行时间（分钟）',
    coverage_legend_score: '步行阈值内可达的类别数（共 {n} 类）',
    coverage_far: '超过 {n} 分钟',
    coverage_unreachable: '无法到达',
    coverage_threshold: '生活圈阈值：{min} 分钟（约 {m} 米）',
    coverage_mode_network: '沿街道步行计算',
    coverage_mode_euclidean: '按直线距离计算',
    coverage_failed: '覆盖数据加载失败：{error}',
    stats_title: '各街道覆盖情况',
    stats_headline: '{share} 的居民步行可达全部基本设施',
    stats_headline_none: '数据中没有任何基本设施，无法计算总体覆盖',
    stats_without_data: '未计入（数据中没有这类设施）：{categories}',
    stats_subdistrict: '街道',
    stats_population: '人口',
    stats_share: '覆盖人口',
    stats_mean_score: '平均可达',
    stats_mean_score_note: '居民平均能在步行阈值内到达的设施类别数',
    stats_total: '全区',
    feedback_title_facility: '报告问题：{name}',
    feedback_title_point: '报告此处的问题',
    feedback_kind: '问题类型',
    feedback_message: '说明',
    feedback_message_placeholder: '请描述问题，例如：已关闭、位置不对、名称有误……',
    feedback_message_required: '请写下问题的说明。',
    feedback_contact: '联系方式（选填）',
    feedback_submit: '提交',
    feedback_sending: '正在提交…',
    feedback_ok: '已收到，谢谢！编号 {id}。',
    feedback_error: '提交失败：{error}',
    feedback_rate_limited: '提交过于频繁，请 {s} 秒后再试。',
    feedback_network: '无法连接服务器，请稍后重试。',
    feedback_unavailable: '此服务器暂不接受反馈。',
    feedback_location: '位置：{lon}, {lat}',
    close: '关闭',
    kind_closed: '已关闭或停业',
    kind_wrong_location: '位置不对',
    kind_wrong_info: '名称、类别或地址有误',
    kind_missing_facility: '地图上缺少设施',
    kind_suggestion: '建议',
    kind_other: '其他',
    maplibre_missing_title: '地图组件缺失',
    maplibre_missing: '此服务器缺少 MapLibre GL JS，地图无法显示（瓦片、搜索等接口仍可使用）。缺少的内容及补救方法：',
    load_failed: '页面加载失败：{error}',
    cluster_hint: '{n} 处设施，点击放大',
    meters: '{n} 米',
    kilometers: '{n} 公里',
  },
  en: {
    title: '15-minute life circle',
    subtitle: 'Changning',
    search_placeholder: 'Search facilities, addresses, categories',
    search: 'Search',
    locate: 'My location',
    lang_switch: '中文',
    lang_switch_label: '切换到中文',
    tab_categories: 'Facilities',
    tab_results: 'Results',
    tab_coverage: 'Coverage',
    panel_toggle: 'Expand or collapse the panel',
    all: 'All',
    none: 'None',
    planner_mode: 'Planner view',
    status_under_construction: 'Under construction',
    status_planned: 'Planned',
    status_closed: 'Closed',
    planner_hint: 'Also show facilities under construction (orange ring) and planned (hollow)',
    n_facilities: '{n}',
    basemap: 'Basemap',
    basemap_own: 'From this server’s data',
    basemap_external: 'External',
    basemap_failed: 'The external basemap could not be loaded; using the basemap from this server’s data.',
    loading: 'Loading…',
    no_results: 'No facilities found.',
    results_for: '“{q}”: {n} results',
    results_for_category: '{label}: {n} results',
    results_shown: 'showing the first {n}',
    from_centre: 'Distances from the map centre',
    from_device: 'Distances from your location',
    distance_walk: '{distance} · about {min} min walk',
    walk_min: '{min} min walk',
    straight_line_note: 'Straight-line distance; walking along streets is usually longer',
    search_unavailable: 'This server does not offer search.',
    search_failed: 'Search failed: {error}',
    suggest_category: 'Category',
    locate_denied: 'Your location is not available; distances are from the map centre.',
    locate_unsupported: 'This browser cannot tell your location.',
    locate_ok: 'Showing your location.',
    navigate: 'Navigate',
    navigate_with: 'Navigate with:',
    nav_amap: 'Amap',
    nav_baidu: 'Baidu Maps',
    nav_tencent: 'Tencent Maps',
    nav_apple: 'Apple Maps',
    nav_osm: 'OpenStreetMap',
    nav_unavailable: 'Navigation links are not available.',
    report: 'Report a problem',
    report_here: 'Report a map problem',
    report_pick: 'Tap the map where the problem is (Esc to cancel).',
    cancel: 'Cancel',
    address: 'Address',
    subdistrict: 'Subdistrict',
    coverage_unavailable: 'This server does not offer coverage.',
    coverage_show: 'Show coverage heatmap',
    coverage_measure: 'Measure',
    coverage_all: 'All categories (composite)',
    coverage_profile: 'Walkers',
    coverage_legend_time: 'Walking minutes to the nearest: {label}',
    coverage_legend_score: 'Categories within their walking threshold (of {n})',
    coverage_far: 'over {n} min',
    coverage_unreachable: 'unreachable',
    coverage_threshold: 'Life-circle threshold: {min} min (about {m} m)',
    coverage_mode_network: 'walking along streets',
    coverage_mode_euclidean: 'straight-line distance',
    coverage_failed: 'Coverage could not be loaded: {error}',
    stats_title: 'Coverage by subdistrict',
    stats_headline: '{share} of residents can walk to every essential facility',
    stats_headline_none: 'The data holds no essential facility, so there is no overall figure',
    stats_without_data: 'Not counted (no such facility in the data): {categories}',
    stats_subdistrict: 'Subdistrict',
    stats_population: 'Population',
    stats_share: 'Covered',
    stats_mean_score: 'Mean',
    stats_mean_score_note: 'Categories the average resident can walk to within their thresholds',
    stats_total: 'District',
    feedback_title_facility: 'Report a problem: {name}',
    feedback_title_point: 'Report a problem here',
    feedback_kind: 'Problem',
    feedback_message: 'Details',
    feedback_message_placeholder: 'What is wrong? e.g. closed, wrong place, wrong name…',
    feedback_message_required: 'Please describe the problem.',
    feedback_contact: 'Contact (optional)',
    feedback_submit: 'Send',
    feedback_sending: 'Sending…',
    feedback_ok: 'Thank you, received as report {id}.',
    feedback_error: 'Not sent: {error}',
    feedback_rate_limited: 'Too many reports; try again in {s} s.',
    feedback_network: 'The server cannot be reached; try again later.',
    feedback_unavailable: 'This server does not take reports.',
    feedback_location: 'Location: {lon}, {lat}',
    close: 'Close',
    kind_closed: 'Closed',
    kind_wrong_location: 'Wrong location',
    kind_wrong_info: 'Wrong name, category or address',
    kind_missing_facility: 'Facility missing from the map',
    kind_suggestion: 'Suggestion',
    kind_other: 'Other',
    maplibre_missing_title: 'The map library is missing',
    maplibre_missing: 'This server lacks MapLibre GL JS, so the map cannot be shown (tiles, search and the other endpoints still work). What is missing and how to add it:',
    load_failed: 'The page could not load: {error}',
    cluster_hint: '{n} facilities, click to zoom in',
    meters: '{n} m',
    kilometers: '{n} km',
  },
};

const STORAGE_KEY = 'lifecircle.lang';
const listeners = [];

function initialLang() {
  const fromUrl = new URLSearchParams(location.search).get('lang');
  if (fromUrl === 'en' || fromUrl === 'zh') return fromUrl;
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === 'en' || stored === 'zh') return stored;
  } catch {
    // Storage may be unavailable (private mode); Chinese is the default.
  }
  return 'zh';
}

let lang = initialLang();

export const getLang = () => lang;

/** The string `key` in the current language with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

export function setLang(next) {
  if (next !== 'zh' && next !== 'en') return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered; the switch still works for this visit.
  }
  applyStatic();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.push(fn);
}

/** Fills elements marked with data-i18n (text), data-i18n-placeholder and data-i18n-title. */
export function applyStatic(root = document) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = `${t('title')} · lifecircle`;
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-placeholder]')) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll('[data-i18n-title]')) {
    node.title = t(node.dataset.i18nTitle);
    node.setAttribute('aria-label', t(node.dataset.i18nTitle));
  }
}

/** The label of a category, group or profile from /catalog in the current language. */
export function label(item) {
  if (!item) return '';
  return (lang === 'en' ? item.label_en : item.label_zh) || item.label_zh || item.label_en || item.id || '';
}

/** A facility's name for display: the English name in English when it has one. */
export function facilityName(props) {
  if (lang === 'en' && props.name_en) return String(props.name_en);
  const name = String(props.name ?? '');
  if (name) return name;
  // An unnamed facility (a park, a sports pitch) is called what it is: the server's label.
  if (lang === 'en' && props.label_en) return String(props.label_en);
  return String(props.label ?? props.category_label_zh ?? '');
}

/** Ground distance in metres as "350 米" / "1.2 km". */
export function formatDistance(m) {
  if (m === null || m === undefined || !Number.isFinite(m)) return '';
  if (m < 1000) return t('meters', { n: Math.round(m / 10) * 10 });
  return t('kilometers', { n: (m / 1000).toFixed(m < 10000 ? 1 : 0) });
}

export function formatPercent(share) {
  if (share === null || share === undefined || !Number.isFinite(share)) return '–';
  return `${(share * 100).toFixed(share >= 0.995 || share < 0.1 ? 1 : 0)}%`;
}

export function formatNumber(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return Math.round(n).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en');
}
