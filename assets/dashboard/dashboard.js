// salesgraph dashboard. Every figure comes from /graphql with the viewer's token, so each panel
// obeys the role and regions exactly as the API does; panels whose fields the policy denies are
// removed, not left broken. The filter lives in the URL so that a view can be shared.
'use strict';

(() => {
  const TOKEN_KEY = 'salesgraph.token'; // GraphiQL at /graphql reads the same key.
  const BODY_TYPES = ['SEDAN', 'HATCHBACK', 'COUPE', 'ROADSTER', 'SUV'];
  const FUEL_TYPES = ['PETROL', 'DIESEL', 'HYBRID', 'ELECTRIC'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const SALES_PAGE = 25;
  const HEATMAP_MARKETS = 6;

  const state = {
    token: null,
    asOf: null,
    firstMonth: null,
    bigMarkets: [],
    inventoryPicked: false,
    viewer: null,
    denied: new Set(),
    models: [],
    countries: [],
    charts: {},
    sales: { after: null, before: null, direction: 'first', loaded: false, observer: null },
    live: null,
    refreshTimer: null,
    generation: 0,
  };

  const $ = (id) => document.getElementById(id);
  const fmtInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const fmtMoney = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0, notation: 'compact', compactDisplay: 'short' });
  const fmtPct = (x) => (x == null ? '–' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`);
  const fmtNum = (x, digits = 2) => (x == null ? '–' : Number(x).toFixed(digits));

  // ---------------------------------------------------------------- GraphQL over HTTP

  class SignedOut extends Error {}

  async function gql(query, variables = {}) {
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${state.token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.status === 401) {
      const reason = body?.errors?.[0]?.message || 'the token was refused';
      signOut(`Signed out: ${reason}`);
      throw new SignedOut(reason);
    }
    if (!body) throw new Error(`the gateway answered HTTP ${response.status}`);
    if (!body.data && body.errors?.length) throw new Error(describeErrors(body.errors));
    return body;
  }

  function describeErrors(errors) {
    return errors.map((e) => `${e.message}${e.extensions?.code ? ` (${e.extensions.code})` : ''}`).join('; ');
  }

  const may = (coordinate) => !state.denied.has(coordinate);
  const seesMoney = () => may('SalesAggregate.revenue') && may('RankedModel.revenue');

  // ---------------------------------------------------------------- sign-in

  function signOut(message = '') {
    window.localStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.viewer = null;
    state.inventoryPicked = false;
    stopLive();
    for (const chart of Object.values(state.charts)) chart.destroy();
    state.charts = {};
    $('app').hidden = true;
    $('sign-out').hidden = true;
    $('viewer').textContent = '';
    $('signin').hidden = false;
    $('signin-error').textContent = message;
    loadDevTokens();
  }

  async function loadDevTokens() {
    const box = $('dev-token-buttons');
    box.replaceChildren();
    try {
      const response = await fetch('/dashboard/dev-tokens', { headers: { accept: 'application/json' } });
      if (!response.ok) return;
      const tokens = await response.json();
      for (const t of tokens) {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.role = t.role;
        button.textContent = t.regions.length ? `${t.role} (${t.regions.join(', ')})` : t.role;
        button.addEventListener('click', () => signIn(t.token));
        box.append(button);
      }
      $('dev-tokens').hidden = tokens.length === 0;
    } catch (_) {
      // Not in dev mode, or the gateway is unreachable: pasting a token still works.
    }
  }

  async function signIn(token) {
    state.token = token.trim().replace(/^Bearer\s+/i, '');
    $('signin-error').textContent = '';
    let boot;
    const started = performance.now();
    try {
      boot = await gql(`query DashboardBoot {
        me { subject role regions limitedToRegions deniedFields }
        models { name bodyType }
        countries { code name region }
        dataStatus { version firstMonth lastSaleDay }
        markets: salesSummary(groupBy: [COUNTRY], limit: 12) { country { code } }
      }`);
    } catch (error) {
      if (!(error instanceof SignedOut)) $('signin-error').textContent = `Sign-in failed: ${error.message}`;
      return;
    }
    performance.measure('salesgraph:boot', { start: started, end: performance.now() });
    window.localStorage.setItem(TOKEN_KEY, state.token);
    const me = boot.data.me;
    state.viewer = me;
    state.denied = new Set(me.deniedFields);
    state.models = boot.data.models;
    state.asOf = boot.data.dataStatus.lastSaleDay;
    state.firstMonth = boot.data.dataStatus.firstMonth;
    state.bigMarkets = boot.data.markets.map((r) => r.country.code);
    state.countries = me.limitedToRegions
      ? boot.data.countries.filter((c) => me.regions.includes(c.region))
      : boot.data.countries;
    $('viewer').textContent = `${me.subject} · ${me.role}${me.limitedToRegions ? ` · ${me.regions.join(', ')}` : ''}${state.asOf ? ` · data to ${state.asOf}` : ''}`;
    $('signin').hidden = true;
    $('app').hidden = false;
    $('sign-out').hidden = false;
    arrangePanels();
    fillFilterOptions();
    readFilterFromUrl();
    await refresh();
    startLive();
  }

  // Panels the role may not see are taken out of the page; the money cards likewise.
  function arrangePanels() {
    const show = (id, visible) => {
      $(id).hidden = !visible;
    };
    show('sales', may('Query.sales'));
    show('inventory', may('Query.inventoryPlan'));
    show('card-revenue', seesMoney());
    show('card-price', may('SalesAggregate.averagePrice'));
  }

  // ---------------------------------------------------------------- filters and the URL

  function option(value, label) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    return o;
  }

  function fillFilterOptions() {
    const regions = [...new Set(state.countries.map((c) => c.region))].sort();
    $('f-regions').replaceChildren(...regions.map((r) => option(r, r)));
    $('f-countries').replaceChildren(...state.countries.map((c) => option(c.code, `${c.name} (${c.code})`)));
    $('f-models').replaceChildren(...state.models.map((m) => option(m.name, m.name)));
    $('f-body').replaceChildren(...BODY_TYPES.map((b) => option(b, b.toLowerCase())));
    $('f-fuel').replaceChildren(...FUEL_TYPES.map((f) => option(f, f.toLowerCase())));
    $('inventory-country').replaceChildren(...state.countries.map((c) => option(c.code, c.name)));
  }

  const iso = (d) => d.toISOString().slice(0, 10);
  const utc = (y, m, d) => new Date(Date.UTC(y, m, d));

  // The period a preset stands for, as of the latest sale (data that stopped last year still
  // has a "last quarter"), or today when there is no data.
  function presetRange(preset) {
    const today = state.asOf ? new Date(`${state.asOf}T00:00:00Z`) : new Date();
    // Data that ends on a month's last day holds that whole month: count it as complete, so
    // that "last 12 months" of data ending 31 December ends on 31 December.
    const complete = new Date(today.getTime() + 86400000).getUTCDate() === 1;
    const y = today.getUTCFullYear();
    const m = today.getUTCMonth() + (complete && preset !== 'this-quarter' && preset !== 'this-year' ? 1 : 0);
    const q = Math.floor(m / 3) * 3;
    switch (preset) {
      case 'last-quarter': return [utc(y, q - 3, 1), utc(y, q, 0)];
      case 'this-quarter': return [utc(y, q, 1), utc(y, m, today.getUTCDate())];
      case 'last-12-months': return [utc(y, m - 12, 1), utc(y, m, 0)];
      case 'this-year': return [utc(y, 0, 1), utc(y, m, today.getUTCDate())];
      case 'last-year': return [utc(y - 1, 0, 1), utc(y - 1, 11, 31)];
      default: return [null, null];
    }
  }

  const selected = (id) => [...$(id).selectedOptions].map((o) => o.value);
  function select(id, values) {
    for (const o of $(id).options) o.selected = values.includes(o.value);
  }

  const FILTER_LISTS = [['countries', 'f-countries'], ['regions', 'f-regions'], ['models', 'f-models'], ['bodyTypes', 'f-body'], ['fuelTypes', 'f-fuel']];

  function readFilterFromUrl() {
    const params = new URLSearchParams(window.location.search);
    const period = params.get('period') || (params.get('from') || params.get('to') ? 'custom' : 'last-12-months');
    $('f-period').value = period;
    for (const [key, id] of FILTER_LISTS) select(id, (params.get(key) || '').split(',').filter(Boolean));
    syncDates(params.get('from'), params.get('to'));
  }

  function syncDates(from, to) {
    const preset = $('f-period').value;
    const custom = preset === 'custom';
    if (!custom) [from, to] = presetRange(preset).map((d) => (d ? iso(d) : ''));
    $('f-from').value = from || '';
    $('f-to').value = to || '';
    $('f-from').disabled = !custom;
    $('f-to').disabled = !custom;
  }

  function writeFilterToUrl() {
    const params = new URLSearchParams();
    const preset = $('f-period').value;
    params.set('period', preset);
    if (preset === 'custom') {
      if ($('f-from').value) params.set('from', $('f-from').value);
      if ($('f-to').value) params.set('to', $('f-to').value);
    }
    for (const [key, id] of FILTER_LISTS) {
      const values = selected(id);
      if (values.length) params.set(key, values.join(','));
    }
    window.history.replaceState(null, '', `${window.location.pathname}?${params}`);
  }

  // The SalesFilter of the form; `withPeriod: false` keeps the selection but not its dates.
  function currentFilter({ withPeriod = true } = {}) {
    const filter = {};
    for (const [key, id] of FILTER_LISTS) {
      const values = selected(id);
      if (values.length) filter[key] = values;
    }
    if (withPeriod) {
      if ($('f-from').value) filter.from = $('f-from').value;
      if ($('f-to').value) filter.to = $('f-to').value;
    }
    return filter;
  }

  // The period just before the filter's, of the same length, for the headline's change.
  function previousFilter(filter) {
    if (!filter.from || !filter.to) return null;
    const from = new Date(`${filter.from}T00:00:00Z`);
    const to = new Date(`${filter.to}T00:00:00Z`);
    const days = Math.round((to - from) / 86400000) + 1;
    const prevTo = new Date(from.getTime() - 86400000);
    const prevFrom = new Date(from.getTime() - days * 86400000);
    return { ...filter, from: iso(prevFrom), to: iso(prevTo) };
  }

  // ---------------------------------------------------------------- panels

  function panelError(id, error) {
    const box = $(id).querySelector('.panel-error');
    if (box) box.textContent = error ? String(error.message || error) : '';
  }

  // What an answer left out and why (sales dated only by quarter or year, for example).
  function panelNotes(id, notes) {
    const box = $(id).querySelector('.panel-notes');
    if (box) box.textContent = (notes || []).join(' ');
  }

  // Runs one panel's loader; a failing panel says why and leaves the others alone.
  async function runPanel(id, load) {
    const panel = $(id);
    if (!panel || panel.hidden) return;
    panel.classList.add('loading');
    panelError(id, null);
    panelNotes(id, null);
    const started = performance.now();
    try {
      await load();
    } catch (error) {
      if (!(error instanceof SignedOut)) panelError(id, error);
    } finally {
      panel.classList.remove('loading');
      // Per-panel times, for measure/dashboard.sh and the curious (performance.getEntriesByType('measure')).
      performance.measure(`salesgraph:panel:${id}`, { start: started, end: performance.now() });
    }
  }

  function chart(id, config) {
    state.charts[id]?.destroy();
    config.options = {
      animation: false,
      maintainAspectRatio: false,
      responsive: true,
      interaction: { mode: 'index', intersect: false },
      normalized: true,
      ...config.options,
    };
    state.charts[id] = new window.Chart($(id), config);
    return state.charts[id];
  }

  const axis = (title, extra = {}) => ({ title: { display: true, text: title }, ...extra });

  async function refresh() {
    const generation = ++state.generation;
    writeFilterToUrl();
    const started = performance.now();
    const filter = currentFilter();
    $('headline-period').textContent = filter.from || filter.to ? `${filter.from || '…'} to ${filter.to || '…'}` : 'all data';
    state.sales.loaded = false;
    await Promise.all([
      runPanel('headline', () => loadHeadline(filter)),
      runPanel('top-models', () => loadTopModels(filter)),
      runPanel('trend', () => loadTrend(filter)),
      runPanel('seasonality', () => loadSeasonality(filter)),
      runPanel('forecast', () => loadForecast(filter)),
      runPanel('marketing', () => loadMarketing(filter)),
      runPanel('growth', () => loadGrowth(filter)),
      runPanel('inventory', () => loadInventory(filter)),
    ]);
    watchSales();
    if (generation === state.generation) {
      const elapsed = performance.now() - started;
      document.documentElement.dataset.ready = String(generation);
      window.salesgraphTimings = { ...(window.salesgraphTimings || {}), [generation]: elapsed };
      performance.mark(`salesgraph:ready:${generation}`);
    }
  }

  async function loadHeadline(filter) {
    // The API compares with the same number of days just before; the range is named here only
    // to say what the change is against.
    const previous = previousFilter(filter);
    const money = seesMoney();
    const price = may('SalesAggregate.averagePrice');
    const { data } = await gql(
      `query Headline($filter: SalesFilter, $compare: Comparison, $money: Boolean!, $price: Boolean!) {
        current: salesSummary(filter: $filter, groupBy: [], compareTo: $compare) {
          units revenue @include(if: $money) averagePrice @include(if: $price)
          previous { units revenue @include(if: $money) averagePrice @include(if: $price) }
        }
      }`,
      { filter, compare: previous ? 'PREVIOUS_PERIOD' : null, money, price },
    );
    const now = data.current[0] || { units: 0 };
    const before = now.previous;
    const kpi = (id, value, previousValue, format) => {
      $(id).textContent = value == null ? '–' : format(value);
      const change = $(`${id}-change`);
      if (previousValue == null || !previousValue || value == null) {
        change.textContent = previous ? 'no previous period to compare' : '';
        change.className = 'change';
        return;
      }
      const ratio = value / previousValue - 1;
      change.textContent = `${fmtPct(ratio)} against ${previous.from} to ${previous.to}`;
      change.className = `change ${ratio >= 0 ? 'up' : 'down'}`;
    };
    kpi('kpi-units', now.units, before?.units, (x) => fmtInt.format(x));
    if (money) kpi('kpi-revenue', now.revenue, before?.revenue, (x) => fmtMoney.format(x));
    if (price) kpi('kpi-price', now.averagePrice, before?.averagePrice, (x) => fmtInt.format(x));
  }

  async function loadTopModels(filter) {
    const { data } = await gql(
      `query TopModels($filter: SalesFilter) { topModels(filter: $filter, limit: 10) { rank model { name } units share } }`,
      { filter },
    );
    const rows = data.topModels;
    chart('top-models-chart', {
      type: 'bar',
      data: {
        labels: rows.map((r) => r.model.name),
        datasets: [{ label: 'Units', data: rows.map((r) => r.units), backgroundColor: '#1c69d4' }],
      },
      options: {
        indexAxis: 'y',
        scales: { x: axis('Units sold'), y: axis('Model') },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (c) => `${fmtInt.format(c.raw)} units (${(rows[c.dataIndex].share * 100).toFixed(1)}% share)` } },
        },
      },
    });
  }

  // The monthly trend of the selection over five years to the filter's end, so that a short
  // period still shows where it sits in the longer run.
  async function loadTrend(filter) {
    const to = filter.to || state.asOf || iso(new Date());
    const start = new Date(`${to}T00:00:00Z`);
    let from = iso(utc(start.getUTCFullYear() - 5, start.getUTCMonth() + 1, 1));
    if (state.firstMonth && state.firstMonth > from) from = state.firstMonth;
    const trendFilter = { ...currentFilter({ withPeriod: false }), from, to };
    const { data } = await gql(
      `query Trend($filter: SalesFilter) { trend(filter: $filter, granularity: MONTH) {
        direction slopePerMonth yearOverYear notes points { period value movingAverage yearOverYear partial } } }`,
      { filter: trendFilter },
    );
    const t = data.trend;
    panelNotes('trend', t.notes);
    $('trend-summary').textContent = `${t.direction.toLowerCase()} · ${fmtInt.format(t.slopePerMonth)} units/month · last year ${fmtPct(t.yearOverYear)}`;
    chart('trend-chart', {
      type: 'line',
      data: {
        labels: t.points.map((p) => p.period.slice(0, 7)),
        datasets: [
          {
            label: 'Units',
            data: t.points.map((p) => p.value),
            borderColor: '#1c69d4',
            pointRadius: t.points.map((p) => (p.partial ? 4 : 0)),
            segment: { borderDash: (c) => (t.points[c.p1DataIndex]?.partial ? [4, 4] : undefined) },
          },
          { label: '12-month average', data: t.points.map((p) => p.movingAverage), borderColor: '#8a94a6', pointRadius: 0 },
        ],
      },
      options: {
        scales: { x: axis('Month'), y: axis('Units sold', { beginAtZero: true }) },
        plugins: {
          tooltip: {
            callbacks: {
              label: (c) => `${c.dataset.label}: ${fmtInt.format(c.raw)}`,
              afterBody: (items) => {
                const p = t.points[items[0].dataIndex];
                return [`year over year: ${fmtPct(p.yearOverYear)}`, ...(p.partial ? ['partial period: not comparable'] : [])];
              },
            },
          },
        },
      },
    });
  }

  function heatClass(index) {
    if (index >= 1.25) return 'heat-high3';
    if (index >= 1.12) return 'heat-high2';
    if (index >= 1.04) return 'heat-high1';
    if (index <= 0.75) return 'heat-low3';
    if (index <= 0.88) return 'heat-low2';
    if (index <= 0.96) return 'heat-low1';
    return 'heat-mid';
  }

  // The selection's markets: those chosen, else the biggest markets (known since sign-in) of
  // the chosen regions; asks the gateway only when none of those is in the selection.
  async function marketsOf(filter, count) {
    if (filter.countries?.length) return filter.countries.slice(0, count);
    const regionOf = new Map(state.countries.map((c) => [c.code, c.region]));
    const inRegions = state.bigMarkets.filter((code) => !filter.regions?.length || filter.regions.includes(regionOf.get(code)));
    if (inRegions.length) return inRegions.slice(0, count);
    const { data } = await gql(
      `query Markets($filter: SalesFilter, $limit: Int) { salesSummary(filter: $filter, groupBy: [COUNTRY], limit: $limit) { country { code } } }`,
      { filter, limit: count },
    );
    return data.salesSummary.map((r) => r.country.code);
  }

  // Months × markets: the selection's markets, each over all its history.
  async function loadSeasonality(filter) {
    const base = currentFilter({ withPeriod: false });
    let markets = await marketsOf(filter, HEATMAP_MARKETS);
    markets = markets.slice(0, 12);
    const fields = 'monthlyIndex peakMonths troughMonths strength months';
    const aliases = markets.map((code, i) => `m${i}: seasonality(filter: $m${i}) { ${fields} }`).join('\n');
    const params = markets.map((_, i) => `$m${i}: SalesFilter`).join(', ');
    const variables = { all: base };
    markets.forEach((code, i) => { variables[`m${i}`] = { ...base, countries: [code] }; });
    const body = await gql(`query Seasonality($all: SalesFilter${params ? `, ${params}` : ''}) { all: seasonality(filter: $all) { ${fields} notes } ${aliases} }`, variables);
    panelNotes('seasonality', body.data.all?.notes);
    const rows = [['Selection', body.data.all], ...markets.map((code, i) => [code, body.data[`m${i}`]])];
    const table = document.createElement('table');
    const head = table.createTHead().insertRow();
    for (const title of ['Market', ...MONTHS, 'Strength']) head.append(Object.assign(document.createElement('th'), { textContent: title }));
    const tbody = table.createTBody();
    for (const [name, s] of rows) {
      const row = tbody.insertRow();
      row.dataset.market = name;
      row.insertCell().textContent = name;
      if (!s) {
        const cell = row.insertCell();
        cell.colSpan = 13;
        cell.textContent = 'not available';
        continue;
      }
      s.monthlyIndex.forEach((index, m) => {
        const cell = row.insertCell();
        cell.className = `cell ${heatClass(index)}`;
        cell.textContent = index.toFixed(2);
        const pct = Math.round((index - 1) * 100);
        cell.title = `${name} · ${MONTHS[m]}: ${index.toFixed(2)} (${pct >= 0 ? '+' : ''}${pct}% against an average month, ${s.months} months of data)`;
      });
      const strength = row.insertCell();
      strength.textContent = s.strength.toFixed(2);
      strength.title = 'share of the variation that is seasonal (0 to 1)';
    }
    $('seasonality-table').replaceChildren(table);
    if (body.errors?.length) panelError('seasonality', describeErrors(body.errors));
  }

  async function loadForecast(filter) {
    const horizon = 6;
    const { data } = await gql(
      `query Forecast($filter: SalesFilter, $horizon: Int) { forecast(filter: $filter, horizonMonths: $horizon, limit: 5) {
        method notes backtest { holdoutMonths mase smape baselineSmape }
        predictions { rank model { name } country { code } units lower upper months { month units lower upper } } } }`,
      // History up to the period's end, whatever its start: the forecast needs years of it.
      { filter: { ...currentFilter({ withPeriod: false }), ...(filter.to ? { to: filter.to } : {}) }, horizon },
    );
    const f = data.forecast;
    panelNotes('forecast', f.notes);
    const b = f.backtest;
    $('forecast-summary').textContent = `next ${horizon} months, 80% interval`;
    $('forecast-backtest').textContent = `${f.method}. Backtest over the last ${b.holdoutMonths} months: MASE ${fmtNum(b.mase)}, sMAPE ${fmtNum(b.smape, 1)}% against ${fmtNum(b.baselineSmape, 1)}% for seasonal naive.`;
    const palette = ['#1c69d4', '#e07b00', '#1a7f37'];
    const shown = f.predictions.slice(0, 3);
    const labels = (shown[0]?.months || []).map((m) => m.month.slice(0, 7));
    const datasets = [];
    shown.forEach((p, i) => {
      const color = palette[i % palette.length];
      datasets.push({ label: `${p.model.name} lower`, data: p.months.map((m) => m.lower), borderColor: 'transparent', pointRadius: 0, fill: false });
      datasets.push({ label: `${p.model.name} upper`, data: p.months.map((m) => m.upper), borderColor: 'transparent', backgroundColor: `${color}22`, pointRadius: 0, fill: '-1' });
      datasets.push({ label: p.model.name, data: p.months.map((m) => m.units), borderColor: color, backgroundColor: color, pointRadius: 3, fill: false });
    });
    chart('forecast-chart', {
      type: 'line',
      data: { labels, datasets },
      options: {
        scales: { x: axis('Month'), y: axis('Units (predicted)', { beginAtZero: true }) },
        plugins: {
          legend: { labels: { filter: (item) => !/ (lower|upper)$/.test(item.text) } },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtInt.format(c.raw)}` } },
        },
      },
    });
    const table = $('forecast-table');
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const [title, cls] of [['#', 'num'], ['Model', ''], ['Units', 'num'], ['80% interval', 'num']]) head.append(Object.assign(document.createElement('th'), { textContent: title, className: cls }));
    const tbody = table.createTBody();
    for (const p of f.predictions) {
      const row = tbody.insertRow();
      for (const [text, cls] of [[p.rank, 'num'], [p.model.name, ''], [fmtInt.format(p.units), 'num'], [`${fmtInt.format(p.lower)} – ${fmtInt.format(p.upper)}`, 'num']]) {
        const cell = row.insertCell();
        cell.textContent = text;
        cell.className = cls;
      }
    }
  }

  function reasonList(items, title) {
    const list = $(`${title}-list`);
    list.replaceChildren(...items.map((item) => {
      const li = document.createElement('li');
      const head = document.createElement('strong');
      head.textContent = item.head;
      const reasons = document.createElement('ul');
      reasons.replaceChildren(...item.reasons.map((r) => Object.assign(document.createElement('li'), { textContent: r })));
      li.append(head, reasons);
      return li;
    }));
  }

  async function loadMarketing(filter) {
    const { data } = await gql(
      `query Marketing($filter: SalesFilter) { marketingPriorities(filter: $filter, limit: 6) { rank model { name } score reasons } }`,
      { filter },
    );
    reasonList(data.marketingPriorities.map((p) => ({ head: `${p.model.name} · score ${fmtNum(p.score)}`, reasons: p.reasons })), 'marketing');
  }

  // The models growing and falling fastest in units against the same days a year earlier, over
  // the filter's period or else the last twelve months.
  async function loadGrowth(filter) {
    const to = filter.to || state.asOf || iso(new Date());
    const end = new Date(`${to}T00:00:00Z`);
    const from = filter.from || iso(utc(end.getUTCFullYear() - 1, end.getUTCMonth(), end.getUTCDate() + 1));
    const fields = 'model { name } units previous { units } change changeRatio';
    const { data } = await gql(
      `query Growth($filter: SalesFilter) {
        growing: salesSummary(filter: $filter, groupBy: [MODEL], compareTo: PREVIOUS_YEAR, rankBy: CHANGE, order: DESC, limit: 5) { ${fields} }
        falling: salesSummary(filter: $filter, groupBy: [MODEL], compareTo: PREVIOUS_YEAR, rankBy: CHANGE, order: ASC, limit: 5) { ${fields} }
      }`,
      { filter: { ...filter, from, to } },
    );
    $('growth-summary').textContent = `${from} to ${to} against a year earlier`;
    const table = $('growth-table');
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const [title, cls] of [['Model', ''], ['Units', 'num'], ['A year earlier', 'num'], ['Change', 'num'], ['', 'num']]) {
      head.append(Object.assign(document.createElement('th'), { textContent: title, className: cls }));
    }
    for (const [label, rows, direction] of [['Growing fastest', data.growing, 'up'], ['Falling fastest', data.falling, 'down']]) {
      const body = table.createTBody();
      body.dataset.direction = direction;
      const caption = body.insertRow().insertCell();
      caption.colSpan = 5;
      caption.className = 'note';
      caption.textContent = label;
      for (const r of rows.filter((row) => (direction === 'up' ? row.change > 0 : row.change < 0))) {
        const row = body.insertRow();
        row.dataset.model = r.model.name;
        row.dataset.change = String(r.change);
        const cells = [[r.model.name, ''], [fmtInt.format(r.units), 'num'], [fmtInt.format(r.previous.units), 'num'],
          [`${r.change > 0 ? '+' : ''}${fmtInt.format(r.change)}`, `num ${direction}`], [fmtPct(r.changeRatio), `num ${direction}`]];
        for (const [text, cls] of cells) Object.assign(row.insertCell(), { textContent: text, className: cls });
      }
    }
  }

  // The plan is per market: the one the user picked, else the first selected, else the
  // selection's biggest market.
  async function loadInventory(filter) {
    const pick = $('inventory-country');
    const countries = selected('f-countries');
    if (countries.length && !countries.includes(pick.value)) pick.value = countries[0];
    else if (!countries.length && !state.inventoryPicked) {
      const [biggest] = await marketsOf(filter, 1);
      if (biggest) pick.value = biggest;
    }
    if (!pick.value) return;
    const { data } = await gql(
      `query Inventory($country: String!) { inventoryPlan(country: $country, horizonMonths: 3) {
        model { name } forecastUnits safetyStock onHand recommendedStock reorderUnits status reasons } }`,
      { country: pick.value },
    );
    const table = $('inventory-table');
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const [title, cls] of [['Model', ''], ['Forecast', 'num'], ['Safety', 'num'], ['On hand', 'num'], ['Recommended', 'num'], ['Reorder', 'num'], ['Status', ''], ['Why', '']]) {
      head.append(Object.assign(document.createElement('th'), { textContent: title, className: cls }));
    }
    const tbody = table.createTBody();
    const order = { SHORT: 0, EXCESS: 1, OK: 2 };
    for (const r of [...(data.inventoryPlan || [])].sort((a, b) => order[a.status] - order[b.status])) {
      const row = tbody.insertRow();
      row.dataset.model = r.model.name;
      row.dataset.status = r.status;
      for (const [text, cls] of [[r.model.name, ''], [fmtInt.format(r.forecastUnits), 'num'], [fmtInt.format(r.safetyStock), 'num'], [fmtInt.format(r.onHand), 'num'], [fmtInt.format(r.recommendedStock), 'num'], [fmtInt.format(r.reorderUnits), 'num']]) {
        const cell = row.insertCell();
        cell.textContent = text;
        cell.className = cls;
      }
      const status = document.createElement('span');
      status.className = `status ${r.status}`;
      status.textContent = r.status;
      row.insertCell().append(status);
      const why = row.insertCell();
      why.className = 'why';
      why.textContent = r.reasons.join(' ');
    }
  }

  // ---------------------------------------------------------------- the sales table, lazily

  // The table loads when it scrolls into view, not with the first view.
  function watchSales() {
    const panel = $('sales');
    state.sales.observer?.disconnect();
    if (panel.hidden) return;
    state.sales.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !state.sales.loaded) {
        state.sales.loaded = true;
        runPanel('sales', () => loadSales('first'));
      }
    });
    state.sales.observer.observe(panel);
  }

  async function loadSales(direction) {
    const money = may('Sale.revenue') && may('Sale.unitPrice');
    const filter = currentFilter();
    const page = direction === 'previous'
      ? { last: SALES_PAGE, before: state.sales.before }
      : { first: SALES_PAGE, after: direction === 'next' ? state.sales.after : null };
    const { data } = await gql(
      `query SalesPage($filter: SalesFilter, $first: Int, $after: String, $last: Int, $before: String, $money: Boolean!) {
        sales(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
          totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          edges { node { id soldOn model { name } country { code } units unitPrice @include(if: $money) revenue @include(if: $money) fuelType transmission color } }
        } }`,
      { filter, money, ...page },
    );
    const connection = data.sales;
    state.sales.after = connection.pageInfo.endCursor;
    state.sales.before = connection.pageInfo.startCursor;
    $('sales-next').disabled = !connection.pageInfo.hasNextPage;
    $('sales-prev').disabled = !connection.pageInfo.hasPreviousPage;
    $('sales-count').textContent = `${fmtInt.format(connection.totalCount)} rows, newest first`;
    const columns = [['id', 'Id', 'num'], ['soldOn', 'Sold on', ''], ['model', 'Model', ''], ['country', 'Country', ''], ['units', 'Units', 'num']];
    if (money) columns.push(['unitPrice', 'Unit price', 'num'], ['revenue', 'Revenue', 'num']);
    columns.push(['fuelType', 'Fuel', ''], ['transmission', 'Gearbox', ''], ['color', 'Colour', '']);
    const table = $('sales-table');
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const [, title, cls] of columns) head.append(Object.assign(document.createElement('th'), { textContent: title, className: cls }));
    const tbody = table.createTBody();
    for (const { node } of connection.edges) {
      const row = tbody.insertRow();
      row.dataset.id = node.id;
      const value = { ...node, model: node.model.name, country: node.country.code };
      for (const [key, , cls] of columns) {
        const cell = row.insertCell();
        const v = value[key];
        cell.textContent = v == null ? '' : typeof v === 'number' && key !== 'units' ? fmtInt.format(v) : String(v);
        cell.className = cls;
      }
    }
  }

  // ---------------------------------------------------------------- ask

  function interpretationChips(i) {
    const parts = [i.intent.toLowerCase().replace('_', ' ')];
    parts.push(...i.models, ...i.countries, ...i.regions, ...i.bodyTypes.map((b) => b.toLowerCase()), ...i.fuelTypes.map((f) => f.toLowerCase()));
    if (i.from || i.to) parts.push(`${i.from || '…'} to ${i.to || '…'}`);
    if (i.limit) parts.push(`limit ${i.limit}`);
    parts.push(i.metric.toLowerCase(), i.order === 'ASC' ? 'lowest first' : 'highest first');
    if (i.granularity) parts.push(`by ${i.granularity.toLowerCase()}`);
    return parts;
  }

  async function ask(question, alternative = null) {
    const box = $('ask-result');
    box.textContent = 'Asking…';
    const fields = 'intent models countries regions bodyTypes fuelTypes from to limit metric order granularity confidence';
    let body;
    try {
      body = await gql(
        `query Ask($question: String!, $asOf: Date, $alternative: Int) { ask(question: $question, asOf: $asOf, alternative: $alternative) {
          question confidence notes cached columns rows interpretation { ${fields} } alternatives { ${fields} } } }`,
        { question, asOf: state.asOf, alternative },
      );
    } catch (error) {
      if (!(error instanceof SignedOut)) box.textContent = `Could not ask: ${error.message}`;
      return;
    }
    const answer = body.data.ask;
    box.replaceChildren();
    const reading = document.createElement('div');
    reading.className = 'interpretation';
    const chips = document.createElement('div');
    chips.className = 'chips';
    chips.replaceChildren(...interpretationChips(answer.interpretation).map((text) => Object.assign(document.createElement('span'), { className: 'chip', textContent: text })));
    const confidence = document.createElement('p');
    const bar = document.createElement('span');
    bar.className = `confidence w${Math.round(answer.confidence * 10)}`;
    bar.append(document.createElement('span'));
    confidence.append('Confidence ', bar, ` ${Math.round(answer.confidence * 100)}%`);
    confidence.id = 'ask-confidence';
    reading.append(chips, confidence);
    box.append(reading);
    for (const note of [...answer.notes, ...(body.errors || []).map((e) => e.message)]) {
      box.append(Object.assign(document.createElement('p'), { className: 'note', textContent: note }));
    }
    if (answer.columns.length && answer.rows.length) {
      const table = document.createElement('table');
      table.className = 'data';
      table.id = 'ask-answer';
      const head = table.createTHead().insertRow();
      for (const column of answer.columns) head.append(Object.assign(document.createElement('th'), { textContent: column }));
      const tbody = table.createTBody();
      for (const cells of answer.rows) {
        const row = tbody.insertRow();
        for (const cell of cells) row.insertCell().textContent = cell ?? '';
      }
      box.append(table);
    }
    if (answer.alternatives.length) {
      const alternatives = document.createElement('div');
      alternatives.className = 'chips alternatives';
      alternatives.append('Did you mean: ');
      answer.alternatives.forEach((alt, i) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = `${interpretationChips(alt).join(' · ')} (${Math.round(alt.confidence * 100)}%)`;
        button.addEventListener('click', () => ask(question, i + 1));
        alternatives.append(button);
      });
      box.append(alternatives);
    }
  }

  // ---------------------------------------------------------------- live updates

  function startLive() {
    stopLive();
    if (!window.graphqlWs) return;
    const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/graphql/ws`;
    const client = window.graphqlWs.createClient({
      url,
      connectionParams: { Authorization: `Bearer ${state.token}` },
      retryAttempts: Infinity,
      shouldRetry: () => true,
      on: {
        connected: () => { $('live').textContent = 'live'; $('live').classList.add('on'); },
        closed: () => { $('live').textContent = 'offline'; $('live').classList.remove('on'); },
      },
    });
    const unsubscribe = client.subscribe(
      { query: 'subscription Live($filter: SalesFilter) { salesUpdated(filter: $filter) { version units rows lastSaleDay } }', variables: { filter: currentFilter({ withPeriod: false }) } },
      {
        next: ({ data }) => {
          if (!data?.salesUpdated) return;
          $('live').textContent = `live · data version ${data.salesUpdated.version}`;
          // Imports arrive in bursts: one refresh for a burst.
          clearTimeout(state.refreshTimer);
          state.refreshTimer = setTimeout(() => refresh(), 300);
        },
        error: () => {},
        complete: () => {},
      },
    );
    state.live = { client, unsubscribe };
  }

  function stopLive() {
    if (!state.live) return;
    state.live.unsubscribe();
    state.live.client.dispose();
    state.live = null;
  }

  // ---------------------------------------------------------------- wiring

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', (e) => {
      e.preventDefault();
      signIn($('signin-token').value);
    });
    $('sign-out').addEventListener('click', () => signOut());
    $('f-period').addEventListener('change', () => syncDates($('f-from').value, $('f-to').value));
    $('filters').addEventListener('submit', (e) => {
      e.preventDefault();
      refresh();
      startLive();
    });
    $('reset').addEventListener('click', () => {
      window.history.replaceState(null, '', window.location.pathname);
      readFilterFromUrl();
      refresh();
      startLive();
    });
    $('inventory-country').addEventListener('change', () => {
      state.inventoryPicked = true;
      runPanel('inventory', () => loadInventory(currentFilter()));
    });
    $('sales-next').addEventListener('click', () => runPanel('sales', () => loadSales('next')));
    $('sales-prev').addEventListener('click', () => runPanel('sales', () => loadSales('previous')));
    $('ask-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const question = $('ask-input').value.trim();
      if (question) ask(question);
    });
    const token = window.localStorage.getItem(TOKEN_KEY);
    if (token) signIn(token);
    else signOut();
  });
})();
