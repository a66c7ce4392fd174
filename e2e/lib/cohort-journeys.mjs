// The hand-built journey set of the cohort e2e tests (e2e/cohorts-origin*.test.mjs): the
// SDK-shaped events sent through ingest, and the cohorts and customer summaries computed by
// hand from them.
import { DAY } from './stack.mjs';

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
export const dayMs = (day) => Date.parse(`${day}T00:00:00Z`);
// Cohort days A and B a week ago, so every event is in the past and both cohorts have lived
// at least three days.
export const A = isoDay(Date.now() - 8 * DAY);
export const B = isoDay(Date.now() - 7 * DAY);
export const TODAY = isoDay(Date.now());
const at = (day, offset, hh) => `${isoDay(dayMs(day) + offset * DAY)}T${hh}:00:00.000Z`;

const page = (userId, messageId, timestamp, utm) => ({
  userId,
  messageId,
  timestamp,
  // A visit without a campaign comes from the shop's own pages (same-host referrer), so it
  // makes no touch: it is activity only.
  context: {
    page: utm
      ? { url: `https://shop.example/?utm_source=${utm[0]}&utm_medium=cpc&utm_campaign=${utm[1]}` }
      : { url: 'https://shop.example/account', referrer: 'https://shop.example/' },
  },
});
const order = (userId, messageId, timestamp, revenue, currency) => ({
  userId, messageId, timestamp, event: 'Order Completed', properties: { revenue, currency },
});

// The journey set.
// ann: google/spring, buys on A (10 USD); visits on day 1; buys again on day 3 (20 USD).
// bob: meta/summer, buys on A (5 USD); visits on day 2.
// cy: google/spring, buys on B (7 EUR).
// dan: visits on A without a campaign, first buys on B (3 USD): organic cohort B; his visit
//      on A is before his cohort and counts nowhere.
export const EVENTS = [
  ['/v1/page', page('co-ann', 'ann-1', at(A, 0, '01'), ['google', 'spring'])],
  ['/v1/track', order('co-ann', 'ann-2', at(A, 0, '02'), 10, 'USD')],
  ['/v1/page', page('co-bob', 'bob-1', at(A, 0, '03'), ['meta', 'summer'])],
  ['/v1/track', order('co-bob', 'bob-2', at(A, 0, '04'), 5, 'USD')],
  ['/v1/page', page('co-dan', 'dan-1', at(A, 0, '05'))],
  ['/v1/page', page('co-cy', 'cy-1', at(B, 0, '01'), ['google', 'spring'])],
  ['/v1/track', order('co-cy', 'cy-2', at(B, 0, '02'), 7, 'EUR')],
  ['/v1/track', order('co-dan', 'dan-2', at(B, 0, '05'), 3, 'USD')],
  ['/v1/page', page('co-ann', 'ann-3', at(A, 1, '06'))],
  ['/v1/page', page('co-bob', 'bob-3', at(A, 2, '07'))],
  ['/v1/track', order('co-ann', 'ann-4', at(A, 3, '08'), 20, 'USD')],
];
// Twelve newsletter buyers on A, so the lifetime-value fit has repeat buyers to fit: buyer i
// pays 10 USD on day 0 and buys again on days 1 .. k (k = i % 3 + 1), paying 5 + i + d on day d.
export const BUYERS = Array.from({ length: 12 }, (_, i) => ({ user: `co-x${i}`, i, k: (i % 3) + 1 }));
for (const { user, i, k } of BUYERS) {
  EVENTS.push(['/v1/page', page(user, `${user}-p`, at(A, 0, '09'), ['newsletter', 'spring'])]);
  EVENTS.push(['/v1/track', order(user, `${user}-0`, at(A, 0, '10'), 10, 'USD')]);
  for (let d = 1; d <= k; d++) EVENTS.push(['/v1/track', order(user, `${user}-${d}`, at(A, d, '11'), 5 + i + d, 'USD')]);
}


/** GET /v1/cohorts over A..B, group_by day,source, max_day 3: rows as computed by hand. */
export const expectedCohorts = () => [
  // ann: bought on days 0 and 3, visited on day 1.
  { day: A, source: 'google', users: 1, active: [1, 1, 0, 1], revenue: { USD: [10, 10, 10, 30] } },
  // bob: visited on day 2 without buying.
  { day: A, source: 'meta', users: 1, active: [1, 0, 1, 0], revenue: { USD: [5, 5, 5, 5] } },
  // The buyers: all back on day 1, those with k >= 2 (i % 3 >= 1: 8) on day 2, k = 3 (4)
  // on day 3. USD: 12 × 10; + Σ(6 + i) = 138; + Σ over those 8 of (7 + i) = 104; + Σ over
  // those 4 of (8 + i) = 58.
  { day: A, source: 'newsletter', users: 12, active: [12, 12, 8, 4], revenue: { USD: [120, 258, 362, 420] } },
  { day: B, source: '(organic)', users: 1, active: [1, 0, 0, 0], revenue: { USD: [3, 3, 3, 3] } },
  { day: B, source: 'google', users: 1, active: [1, 0, 0, 0], revenue: { EUR: [7, 7, 7, 7] } },
];

const age = (day) => (dayMs(TODAY) - dayMs(day)) / DAY;

/** The customers (ltv_customers rows, observed today; T is the age in days), ordered by day, source, frequency, monetary value. */
export const expectedCustomers = () => [
  { day: A, source: 'google', currency: 'USD', frequency: 1, recency: 3, t: age(A), observed_on: TODAY, monetary_value: 20 },
  { day: A, source: 'meta', currency: 'USD', frequency: 0, recency: 0, t: age(A), observed_on: TODAY, monetary_value: 0 },
  // Buyer i: k repeat days, the last on day k, worth 5 + i + (k + 1) / 2 on average.
  ...BUYERS.map(({ i, k }) => ({ day: A, source: 'newsletter', currency: 'USD', frequency: k, recency: k, t: age(A), observed_on: TODAY, monetary_value: 5 + i + (k + 1) / 2 }))
    .sort((x, y) => x.frequency - y.frequency || x.monetary_value - y.monetary_value),
  { day: B, source: '(organic)', currency: 'USD', frequency: 0, recency: 0, t: age(B), observed_on: TODAY, monetary_value: 0 },
  { day: B, source: 'google', currency: 'EUR', frequency: 0, recency: 0, t: age(B), observed_on: TODAY, monetary_value: 0 },
];
