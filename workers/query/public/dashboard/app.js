// The attribution dashboard: reads the query API with the read token the user typed (kept in
// sessionStorage, so it goes with the tab and is not left on the machine: issue 13, finding 10;
// sent as a Bearer token, never put in a URL), renders the numbers as soon as
// they arrive, and the charts once ECharts (loaded in parallel) is ready.
const TOKEN_KEY = 'attrib.readToken';
const DEFAULT_DAYS = 30;
const DAY_MS = 86_400_000;
// The data-driven models of GET /v1/attribution: their credit is computed over the app's stored
// conversion paths for the range (not read from the stats rollup), so they sit beside the
// heuristics in the model select but are fetched from another endpoint.
const DATA_DRIVEN = ['markov', 'shapley'];
const isDataDriven = (model) => DATA_DRIVEN.includes(model);
// Cohort columns (days after the first attributed conversion) and the lifetime-value horizon.
const COHORT_DAYS = 30;
const LTV_HORIZON_DAYS = 365;

const $ = (id) => document.getElementById(id);
// Tokens saved by earlier versions in localStorage are removed, not reused.
localStorage.removeItem(TOKEN_KEY);
const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const state = { app: null, sources: [], renders: 0, cohortRenders: 0 };
// For tests and curious people: the state, the chart instances and when numbers first showed.
window.__dashboard = { state, charts: {}, firstNumbersMs: null };

const echartsReady = new Promise((resolve, reject) => {
  const script = document.createElement('script');
  script.src = 'vendor/echarts.min.js';
  script.async = true;
  script.onload = () => resolve(window.echarts);
  script.onerror = () => reject(new Error('the charting library did not load'));
  document.head.append(script);
});

class ApiError extends Error {}

async function api(path, params = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined));
  const response = await fetch(`${path}${query.size ? `?${query}` : ''}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const e = body.error ?? {};
    throw new ApiError(e.field ? `${e.field}: ${e.reason}` : e.message ?? `HTTP ${response.status}`);
  }
  return body;
}

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const sum = (values) => values.reduce((a, b) => a + b, 0);

/** `USD 12.5 · EUR 3` from per-currency amounts; touch-only rows (currency '') have none. */
function money(byCurrency) {
  const parts = Object.entries(byCurrency).filter(([c]) => c !== '').sort(([a], [b]) => a.localeCompare(b));
  return parts.length ? parts.map(([c, v]) => `${c} ${number.format(v)}`).join(' · ') : '0';
}

function cell(row, text, numeric = false) {
  const td = row.insertCell();
  td.textContent = text;
  if (numeric) td.className = 'num';
  return td;
}

function fillTable(id, rows, render) {
  const body = $(id).tBodies[0];
  body.replaceChildren();
  for (const item of rows) render(body.insertRow(), item);
  if (!rows.length) cell(body.insertRow(), 'No data for these filters').colSpan = 4;
}

/** Rows of a stats answer grouped by `key` (one row per group already, except across models): touches, conversions, value per currency. */
function groupRows(rows, key) {
  const groups = new Map();
  for (const r of rows) {
    const g = groups.get(r[key]) ?? { key: r[key], touches: 0, conversions: 0, value: {}, spend: {}, rows: [] };
    g.touches += r.touches;
    g.conversions += r.conversions;
    for (const [currency, v] of Object.entries(r.credited_value_by_currency ?? {})) g.value[currency] = (g.value[currency] ?? 0) + v;
    for (const [currency, v] of Object.entries(r.spend_by_currency ?? {})) g.spend[currency] = (g.spend[currency] ?? 0) + v;
    g.rows.push(r);
    groups.set(r[key], g);
  }
  return [...groups.values()];
}

function filters() {
  return { from: $('from').value, to: $('to').value, model: $('model').value, source: $('source').value };
}

async function start() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  $('token').value = token ?? '';
  if (!token) return status('Enter a read token to see your numbers.');
  try {
    status('Loading…');
    const app = await api('/v1/app');
    state.app = app;
    $('app-name').textContent = `app ${app.app_id}`;
    const group = (label, models) => {
      const g = document.createElement('optgroup');
      g.label = label;
      g.append(...models.map((m) => new Option(m.replaceAll('_', ' '), m, false, m === app.default_model)));
      return g;
    };
    $('model').replaceChildren(group('Heuristic', app.models), group('Data-driven (stored paths)', DATA_DRIVEN));
    const last = app.stats_days.last ?? isoDay(Date.now());
    $('to').value = last;
    $('from').value = isoDay(Date.parse(last) - (DEFAULT_DAYS - 1) * DAY_MS);
    await refresh();
  } catch (err) {
    status(err.message, true);
  }
}

async function refresh() {
  const f = filters();
  const range = { from: f.from, to: f.to };
  const scope = { ...range, source: f.source };
  status('Loading…');
  // Totals, the time chart, touches and spend do not depend on the model's credit rule; under a
  // data-driven model they come from the stats rollup under the app's default model.
  const statsModel = isDataDriven(f.model) ? state.app.default_model : f.model;
  const [byDay, statsBySource, byModel, paths, fraud, skan, ...attributed] = await Promise.all([
    api('/v1/stats', { ...scope, model: statsModel, group_by: 'day' }),
    api('/v1/stats', { ...scope, model: statsModel, group_by: 'source', order_by: 'conversions' }),
    api('/v1/stats', { ...scope, group_by: 'source,model' }),
    api('/v1/paths', { ...scope, limit: 10 }),
    api('/v1/fraud', range),
    api('/v1/skan', { ...range, group_by: 'ad_network_id,source_identifier,did_win' }),
    ...DATA_DRIVEN.map((model) => api('/v1/attribution', { ...range, model })),
  ]);
  const dataDriven = Object.fromEntries(DATA_DRIVEN.map((m, i) => [m, attributed[i]]));
  const bySource = isDataDriven(f.model)
    ? await attributedBySource(f, dataDriven[f.model], statsBySource, byDay)
    : statsBySource;
  const data = { filters: f, byDay, bySource, byModel, dataDriven, paths, fraud, skan };
  state.data = data;
  renderNumbers(data);
  const note = isDataDriven(f.model) ? ` · credit by source: ${f.model} over ${dataDriven[f.model].paths} stored paths` : '';
  status(`${f.from} – ${f.to} · stats version ${byDay.stats_version}${note}`);
  renderCharts(data).catch((err) => status(err.message, true));
  renderCohortsAndValue(f, valueCurrency(bySource, byDay)).catch((err) => status(err.message, true));
}

/** The currency lifetime value is predicted in: the reporting one, else the one with the most credited value. */
function valueCurrency(bySource, byDay) {
  if (bySource.reporting_currency) return bySource.reporting_currency;
  const value = {};
  for (const t of byDay.totals) for (const [c, v] of Object.entries(t.credited_value_by_currency)) if (c) value[c] = (value[c] ?? 0) + v;
  return Object.entries(value).sort(([a, x], [b, y]) => y - x || a.localeCompare(b))[0]?.[0] ?? null;
}

const percent = (share) => (share == null ? '–' : `${number.format(share * 100)}%`);

/** Cohorts (GET /v1/cohorts) and predicted lifetime value per source (GET /v1/ltv) for the range. */
async function renderCohortsAndValue(f, currency) {
  const scope = { from: f.from, to: f.to, source: f.source };
  const [byDay, bySource, ltv] = await Promise.all([
    api('/v1/cohorts', { ...scope, group_by: 'day', max_day: COHORT_DAYS }),
    api('/v1/cohorts', { ...scope, group_by: 'source', max_day: COHORT_DAYS }),
    currency
      ? api('/v1/ltv', { ...scope, currency, group_by: 'source', horizon: LTV_HORIZON_DAYS }).catch((err) => ({ error: err.message }))
      : Promise.resolve({ error: 'no currency with revenue in the range' }),
  ]);
  state.cohorts = { byDay, bySource, ltv, currency };
  fillTable('cohorts-table', byDay.rows, (row, c) => {
    row.dataset.day = c.day;
    cell(row, c.day);
    cell(row, number.format(c.users), true);
    for (const d of [1, 7, 30]) cell(row, percent(c.retention[d]), true);
    // Revenue by day 30 only for cohorts 30 days old: a younger one has not earned it yet.
    const revenue = Object.fromEntries(Object.entries(c.cumulative_revenue_by_currency).map(([cur, v]) => [cur, v[COHORT_DAYS]]));
    cell(row, c.observed_days < COHORT_DAYS ? '–' : money(revenue), true);
  });
  $('ltv-horizon').textContent = number.format(LTV_HORIZON_DAYS);
  fillTable('ltv-table', ltv.rows ?? [], (row, r) => {
    row.dataset.source = r.source;
    cell(row, r.source);
    cell(row, number.format(r.customers), true);
    cell(row, number.format(r.expected_purchases), true);
    cell(row, r.predicted_value == null ? '–' : `${currency} ${number.format(r.predicted_value)}`, true);
    cell(row, r.predicted_value_per_customer == null ? '–' : `${currency} ${number.format(r.predicted_value_per_customer)}`, true);
  });
  $('ltv-note').textContent = ltv.error
    ? `Lifetime value: ${ltv.error}`
    : ltv.note ?? `${number.format(ltv.customers)} customers acquired in the range, ${currency}; BG/NBD r ${number.format(ltv.bgnbd.r)}, α ${number.format(ltv.bgnbd.alpha)}, a ${number.format(ltv.bgnbd.a)}, b ${number.format(ltv.bgnbd.b)}`;
  const echarts = await echartsReady;
  const days = Array.from({ length: COHORT_DAYS + 1 }, (_, d) => d);
  chart(echarts, 'chart-cohorts').setOption({
    tooltip: { trigger: 'axis' },
    legend: { top: 0, data: bySource.rows.map((r) => r.source) },
    grid: { left: 48, right: 24, top: 40, bottom: 28 },
    xAxis: { type: 'category', name: 'day', data: days },
    yAxis: { type: 'value', max: 1 },
    series: bySource.rows.map((r) => ({ name: r.source, type: 'line', connectNulls: false, data: r.retention })),
  }, true);
  state.cohortRenders += 1;
}

/**
 * The by-source rows under a data-driven model, in the shape of /v1/stats rows: conversions and
 * value are /v1/attribution's credit for the range (value asked once per currency, since it is
 * never summed across currencies); touches and spend are the stats rollup's (they do not depend
 * on the model). CPA and ROAS are left out: the API computes them for heuristic models only.
 */
async function attributedBySource(f, answer, statsBySource, byDay) {
  const currencies = [...new Set(byDay.totals.flatMap((t) => Object.keys(t.credited_value_by_currency)))].filter((c) => c !== '').sort();
  const valued = await Promise.all(currencies.map((currency) => api('/v1/attribution', { from: f.from, to: f.to, model: f.model, currency })));
  const stats = groupRows(statsBySource.rows, 'source');
  const sources = new Set([...answer.channels.map((c) => c.channel), ...stats.map((s) => s.key)]);
  const rows = [];
  for (const source of sources) {
    if (f.source && source !== f.source) continue;
    const s = stats.find((g) => g.key === source);
    const value = {};
    valued.forEach((v, i) => {
      const credit = v.channels.find((c) => c.channel === source)?.value ?? 0;
      if (credit) value[currencies[i]] = credit;
    });
    rows.push({
      source,
      touches: s?.touches ?? 0,
      conversions: answer.channels.find((c) => c.channel === source)?.conversions ?? 0,
      credited_value_by_currency: value,
      spend_by_currency: s?.spend ?? {},
      spend: null,
      cpa: null,
      roas: null,
    });
  }
  return { rows, reporting_currency: null };
}

/** `USD 10–20` per currency from a SKAN row's summed revenue ranges. */
function ranges(revenue) {
  const parts = Object.entries(revenue).sort(([a], [b]) => a.localeCompare(b));
  return parts.length ? parts.map(([c, r]) => `${c} ${number.format(r.min)}–${number.format(r.max)}`).join(' · ') : '–';
}

function renderNumbers({ byDay, bySource, paths, fraud, skan, filters: f }) {
  const totals = byDay.totals;
  $('total-touches').textContent = number.format(sum(totals.map((t) => t.touches)));
  $('total-conversions').textContent = number.format(sum(totals.map((t) => t.conversions)));
  const value = {};
  for (const t of totals) for (const [c, v] of Object.entries(t.credited_value_by_currency)) value[c] = (value[c] ?? 0) + v;
  $('total-value').textContent = money(value);

  const sources = groupRows(bySource.rows, 'source').sort((a, b) => b.conversions - a.conversions || a.key.localeCompare(b.key));
  fillTable('sources-table', sources, (row, s) => {
    row.dataset.source = s.key;
    cell(row, s.key);
    cell(row, number.format(s.touches), true);
    cell(row, number.format(s.conversions), true);
    cell(row, money(s.value), true);
    // Spend, CPA and ROAS as the API computed them (one row per source under one model); the
    // spend in the reporting currency when there is one and every rate is known.
    const only = s.rows.length === 1 ? s.rows[0] : null;
    const reporting = bySource.reporting_currency;
    const converted = only && reporting && only.spend !== null;
    cell(row, converted ? `${reporting} ${number.format(only.spend)}` : money(s.spend), true);
    cell(row, only?.cpa == null ? '–' : `${reporting} ${number.format(only.cpa)}`, true);
    cell(row, only?.roas == null ? '–' : number.format(only.roas), true);
  });
  if (!f.source) {
    state.sources = sources.map((s) => s.key).sort();
    const select = $('source');
    select.replaceChildren(new Option('All sources', ''), ...state.sources.map((s) => new Option(s, s)));
  }
  fillTable('paths-table', paths.rows, (row, p) => {
    cell(row, p.label);
    cell(row, number.format(p.conversions), true);
    cell(row, `${p.currency} ${number.format(p.value)}`, true);
  });
  // Apple's rows beside ours: the app's mobile.skan_sources names a network's source (and a
  // source identifier's campaign); the deterministic conversions are that source's, as in
  // the sources table above.
  const deterministic = new Map(sources.map((s) => [s.key, s.conversions]));
  fillTable('skan-table', skan.rows, (row, r) => {
    cell(row, r.ad_network_id);
    cell(row, r.source_identifier ?? '–');
    cell(row, r.did_win ? 'yes' : 'no');
    cell(row, number.format(r.postbacks), true);
    cell(row, ranges(r.revenue), true);
    if (r.source) row.dataset.source = r.source;
    cell(row, r.source ? [r.source, r.campaign].filter(Boolean).join(' / ') : '–');
    cell(row, r.source ? number.format(deterministic.get(r.source) ?? 0) : '–', true);
  });
  const invalid = Object.entries(skan.invalid);
  $('skan-invalid').textContent = invalid.length
    ? `Unverified (all time): ${invalid.map(([reason, n]) => `${reason} ${number.format(n)}`).join(', ')}`
    : '';
  fillTable('fraud-table', fraud.rows, (row, r) => {
    cell(row, r.reason);
    cell(row, number.format(r.count), true);
  });
  if (window.__dashboard.firstNumbersMs === null) window.__dashboard.firstNumbersMs = performance.now();
  state.renders += 1;
}

function chart(echarts, id) {
  const charts = window.__dashboard.charts;
  charts[id] ??= echarts.init($(id));
  return charts[id];
}

async function renderCharts({ byDay, bySource, byModel, dataDriven, filters: f }) {
  const echarts = await echartsReady;
  const days = [];
  for (let t = Date.parse(f.from); t <= Date.parse(f.to); t += DAY_MS) days.push(isoDay(t));
  const perDay = new Map(groupRows(byDay.rows, 'day').map((d) => [d.key, d]));
  chart(echarts, 'chart-time').setOption({
    tooltip: { trigger: 'axis' },
    legend: { top: 0, data: ['Conversions', 'Touches'] },
    grid: { left: 48, right: 48, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: days },
    yAxis: [{ type: 'value', name: 'conv.' }, { type: 'value', name: 'touches' }],
    series: [
      { name: 'Conversions', type: 'line', smooth: true, data: days.map((d) => perDay.get(d)?.conversions ?? 0) },
      { name: 'Touches', type: 'bar', yAxisIndex: 1, itemStyle: { opacity: 0.35 }, data: days.map((d) => perDay.get(d)?.touches ?? 0) },
    ],
  }, true);

  $('chart-model-name').textContent = f.model.replaceAll('_', ' ');
  const sources = groupRows(bySource.rows, 'source').filter((s) => s.conversions > 0).sort((a, b) => a.conversions - b.conversions);
  chart(echarts, 'chart-source').setOption({
    tooltip: {},
    grid: { left: 100, right: 24, top: 16, bottom: 28 },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: sources.map((s) => s.key) },
    series: [{ name: `Conversions (${f.model})`, type: 'bar', data: sources.map((s) => Number(s.conversions.toFixed(4))) }],
  }, true);

  const models = [...state.app.models, ...DATA_DRIVEN];
  const cells = new Map();
  const add = (model, source, conversions) => cells.set(`${model}\u0000${source}`, (cells.get(`${model}\u0000${source}`) ?? 0) + conversions);
  for (const r of byModel.rows) add(r.model, r.source, r.conversions);
  // /v1/attribution has no source filter: keep only the picked source's credit, as the stats rows do.
  for (const m of DATA_DRIVEN) for (const c of dataDriven[m].channels) if (!f.source || c.channel === f.source) add(m, c.channel, c.conversions);
  const names = [...new Set([...cells.keys()].map((k) => k.split('\u0000')[1]))].sort();
  chart(echarts, 'chart-models').setOption({
    tooltip: { trigger: 'axis' },
    legend: { top: 0, data: models },
    grid: { left: 48, right: 24, top: 40, bottom: 28 },
    xAxis: { type: 'category', data: names },
    yAxis: { type: 'value' },
    series: models.map((m) => ({ name: m, type: 'bar', data: names.map((s) => Number((cells.get(`${m}\u0000${s}`) ?? 0).toFixed(4))) })),
  }, true);
}

async function showJourney(event) {
  event.preventDefault();
  const out = $('journey-out');
  const id = $('journey-id').value.trim();
  const model = $('model').value;
  try {
    const j = await api(`/v1/journeys/${encodeURIComponent(id)}`, { type: $('journey-type').value });
    const list = document.createElement('ol');
    const items = [
      ...j.touches.map((t) => ({ ts: t.ts_ms, text: `${t.kind} · ${t.channel} · ${t.source} / ${t.campaign || '–'}` })),
      ...j.conversions.map((c) => {
        const credits = (c.models.find((m) => m.model === model)?.credits ?? []).map((k) => `${k.source} ${Math.round(k.credit * 100)}%`);
        return { ts: c.conversion.ts_ms, text: `conversion ${c.conversion.name} · ${c.conversion.currency} ${number.format(c.conversion.revenue)} · ${model}: ${credits.join(', ') || '(organic)'}` };
      }),
    ].sort((a, b) => a.ts - b.ts);
    for (const item of items) {
      const li = document.createElement('li');
      li.textContent = `${new Date(item.ts).toISOString().replace('T', ' ').slice(0, 19)} — ${item.text}`;
      list.append(li);
    }
    const title = document.createElement('p');
    title.className = 'muted';
    title.textContent = `${j.journey} · ${j.event_count} events${j.merged_from.length ? ` · merged from ${j.merged_from.join(', ')}` : ''}`;
    out.replaceChildren(title, list);
  } catch (err) {
    out.textContent = err.message;
    out.className = 'error';
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  start();
});
$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  refresh().catch((err) => status(err.message, true));
});
$('model').addEventListener('change', () => refresh().catch((err) => status(err.message, true)));
$('journey-form').addEventListener('submit', showJourney);
addEventListener('resize', () => Object.values(window.__dashboard.charts).forEach((c) => c.resize()));
start();
