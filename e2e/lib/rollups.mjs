// Rollups as the origin writes them: signed POST /internal/rollups bodies (exactly as
// core/src/signing.rs signs, rollups direction), generated fixtures of daily stats, conversion
// paths and fraud counts, and the reference aggregation the read API's answers are checked against.
import { signHeader } from './signing.mjs';
import { QUERY } from './stack.mjs';

export const MODELS = ['last_click', 'first_click', 'linear', 'time_decay', 'position_based', 'last_non_direct'];

export function signed(body, secret, t = Math.floor(Date.now() / 1000), options = {}) {
  return { 'x-attrib-signature': signHeader(secret, 'rollups', '/internal/rollups', body, { t, ...options }), 'content-type': 'application/json' };
}

/** POSTs an upsert body to the query Worker, signed with the stack's secret. */
export function upsert(stack, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: text, headers: signed(text, stack.secret) });
}

/** GET a read endpoint with a token; `params` as an object or a raw query string. */
export function read(stack, path, token, params = {}) {
  const query = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  return stack.fetch(`${QUERY}${path}${query ? `?${query}` : ''}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

/** A small deterministic PRNG, so a fixture is the same on every run. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function dayRange(first, count) {
  const start = Date.parse(`${first}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(start + i * 86_400_000).toISOString().slice(0, 10));
}

const PATHS = [['google'], ['google', 'newsletter'], ['newsletter', 'google'], ['bing', 'google', 'newsletter'], ['(organic)'], ['facebook', 'google']];
const REASONS = ['click_flood', 'bot_user_agent', 'datacenter_ip'];

/**
 * A full upsert for `appId` over `days`: touch rows (currency '') repeated per model, and
 * conversion rows whose credit differs per model, in USD and EUR; paths; fraud counts.
 */
export function fixture(appId, days, { seed = 1, sources = ['google', 'bing', 'newsletter', 'facebook'], campaigns = ['spring', 'brand'] } = {}) {
  const rnd = random(seed);
  const rows = [];
  for (const day of days) {
    for (const source of sources) {
      for (const campaign of campaigns) {
        const touches = Math.floor(rnd() * 20);
        for (const model of MODELS) rows.push({ app_id: appId, day, source, campaign, model, currency: '', touches, conversions: 0, revenue: 0, credited_value: 0 });
        for (const currency of ['USD', 'EUR']) {
          if (rnd() < 0.3) continue;
          const price = Math.round(rnd() * 100 * 100) / 100;
          MODELS.forEach((model, m) => {
            const conversions = Math.round(rnd() * (m + 1) * 100) / 100;
            const revenue = Math.round(conversions * price * 1.5 * 100) / 100;
            rows.push({ app_id: appId, day, source, campaign, model, currency, touches: 0, conversions, revenue, credited_value: Math.round(conversions * price * 100) / 100 });
          });
        }
      }
    }
  }
  const paths = [];
  for (const day of days) {
    for (const path of PATHS) {
      for (const currency of ['USD', 'EUR']) {
        if (rnd() < 0.4) continue;
        const conversions = 1 + Math.floor(rnd() * 9);
        paths.push({ app_id: appId, day, path, currency, conversions, value: Math.round(conversions * rnd() * 5000) / 100 });
      }
    }
  }
  const fraud = [];
  for (const day of days) {
    for (const reason of REASONS) {
      if (rnd() < 0.2) continue;
      fraud.push({ app_id: appId, day, reason, count: Math.floor(rnd() * 50) });
    }
  }
  return { days: days.map((day) => ({ app_id: appId, day })), rows, paths, fraud };
}

const sum = (values) => values.reduce((a, b) => a + b, 0);

/** The reference answer: `rows` filtered and grouped like GET /v1/stats should. */
export function aggregate(rows, { from, to, groupBy = ['day'], models, sources = [], campaigns = [], currencies = [] }) {
  const kept = rows.filter(
    (r) =>
      r.day >= from && r.day <= to && models.includes(r.model) &&
      (!sources.length || sources.includes(r.source)) &&
      (!campaigns.length || campaigns.includes(r.campaign)) &&
      (!currencies.length || r.currency === '' || currencies.includes(r.currency)),
  );
  const groups = new Map();
  for (const r of kept) {
    const key = JSON.stringify(groupBy.map((g) => r[g]));
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  // One group per key, amounts per original currency (never summed across currencies).
  const byCurrency = (members, field) => {
    const out = {};
    for (const m of members.filter((m) => m.currency !== '')) out[m.currency] = (out[m.currency] ?? 0) + m[field];
    return out;
  };
  return new Map(
    [...groups].map(([key, members]) => [
      key,
      {
        touches: sum(members.map((m) => m.touches)),
        conversions: sum(members.map((m) => m.conversions)),
        revenue_by_currency: byCurrency(members, 'revenue'),
        credited_value_by_currency: byCurrency(members, 'credited_value'),
      },
    ]),
  );
}

/** The key `aggregate` uses for an API row: its group, all currencies together. */
export const rowKey = (row, groupBy) => JSON.stringify(groupBy.map((g) => row[g]));

/** Two `{currency: amount}` objects hold the same currencies and amounts. */
export const closeMaps = (a, b) =>
  Object.keys(a).sort().join() === Object.keys(b).sort().join() && Object.keys(a).every((c) => close(a[c], b[c]));

export const close = (a, b) => Math.abs(a - b) < 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

/** Splits a fixture into upserts of `perChunk` days each, as the origin splits large sets. */
export function byDays(data, perChunk) {
  const out = [];
  for (let i = 0; i < data.days.length; i += perChunk) {
    const days = data.days.slice(i, i + perChunk);
    const keep = (r) => days.some((d) => d.day === r.day);
    out.push({ days, rows: data.rows.filter(keep), paths: data.paths.filter(keep), fraud: data.fraud.filter(keep) });
  }
  return out;
}
