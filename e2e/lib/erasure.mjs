// Shared by the erasure tests (issue 12): a person with a click, a merged anonymous journey
// and pending postbacks, and the reads that show what is left of them in D1, the Durable
// Objects and the origin's embedded store.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { at, INGEST } from './stack.mjs';

export const REGULATIONS_ROUTE = '/admin/v1/apps/{app}/regulations';
export const REGULATION_ROUTE = '/admin/v1/apps/{app}/regulations/{regulation}';

export const ok = (res) => assert.ok(res.status === 200 || res.status === 302, `${res.status} ${res.text}`);
export const expectStatus = (res, status) => assert.equal(res.status, status, `${res.status} ${res.text}`);

/** A page view from a paid source. */
export const page = (ids, messageId, source) => ({
  type: 'page', ...ids, messageId,
  context: { page: { url: `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=spring` } },
});

/** An app with a tracking link `er-{app}` and a postback to every network at `networkUrl`. */
export async function appWithPostbacks(stack, networkUrl) {
  const app = await stack.createApp();
  await stack.createLink(app.appId, { id: `er-${app.appId}`, destination: 'https://shop.example/', source: 'newsy', medium: 'cpc', campaign: 'c1' });
  const db = await stack.d1();
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template, method) VALUES (?, '*', ?, 'POST')")
    .bind(app.appId, `${networkUrl}/pb/${app.appId}/{network}`).run();
  return app;
}

const order = (stack, app, ids, messageId) => stack.segment('/v1/track', {
  ...ids, messageId, event: 'Order Completed', timestamp: at(30_000),
  properties: { revenue: 25, currency: 'EUR', order_id: `order-${messageId}` },
}, { key: app.writeKey });

/** A person: a click on the app's link, an anonymous order, an identify merging it, a user order. */
export async function person(stack, app, user, anon) {
  ok(await stack.fetch(`${INGEST}/c/er-${app.appId}?anonymous_id=${anon}`, {
    headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' },
  }));
  ok(await order(stack, app, { anonymousId: anon }, `${anon}-order`));
  ok(await stack.segment('/v1/identify', { userId: user, anonymousId: anon, messageId: `${user}-identify` }, { key: app.writeKey }));
  ok(await order(stack, app, { userId: user }, `${user}-order`));
  const journey = await stack.journey(user, app.readToken);
  expectStatus(journey, 200);
  assert.ok(journey.json.merged_from.includes(`a:${app.appId}:${anon}`), JSON.stringify(journey.json.merged_from));
}

/** D1's postback-log rows of `journeys`. */
export async function attemptsOf(stack, appId, journeys) {
  const db = await stack.d1();
  const marks = journeys.map(() => '?').join(', ');
  const row = await db.prepare(`SELECT COUNT(*) AS n FROM postback_attempts WHERE app_id = ? AND journey IN (${marks})`)
    .bind(appId, ...journeys).first();
  return row.n;
}

/** The sum of D1's last-click daily touches of the app. */
export async function touchesInD1(stack, appId) {
  const db = await stack.d1();
  const row = await db.prepare("SELECT COALESCE(SUM(touches), 0) AS t FROM daily_stats WHERE app_id = ? AND model = 'last_click'").bind(appId).first();
  return row.t;
}

/** One value of `query` over the origin's embedded store in `dataDir` (python3's sqlite3 reads it). */
export const embeddedScalar = (dataDir) => (query, ...params) => JSON.parse(execFileSync('python3', ['-c',
  'import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1]); print(json.dumps(c.execute(sys.argv[2], json.loads(sys.argv[3])).fetchone()[0]))',
  join(dataDir, 'origin.db'), query, JSON.stringify(params)]).toString());

/** The embedded store's rows of `journeys` (events, attributions, null paths, merges either side). */
export function embeddedRowsOf(scalar, appId, journeys) {
  const marks = journeys.map(() => '?').join(', ');
  return ['events', 'attributions', 'null_paths'].reduce(
    (n, table) => n + scalar(`SELECT COUNT(*) FROM ${table} WHERE app_id = ? AND journey IN (${marks})`, appId, ...journeys), 0,
  ) + scalar(`SELECT COUNT(*) FROM merges WHERE app_id = ? AND (from_journey IN (${marks}) OR into_journey IN (${marks}))`, appId, ...journeys, ...journeys);
}

/** Every row of every table of every SQLite file (`*.db`) in `dataDir`, as `file:table\tJSON` lines (blobs as latin-1 text). */
export const sqliteDump = (dataDir) => JSON.parse(execFileSync('python3', ['-c', [
  'import glob, json, os, sqlite3, sys',
  'out = []',
  "for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.db'))):",
  "    c = sqlite3.connect('file:' + path + '?mode=ro', uri=True)",
  "    for (t,) in c.execute(\"SELECT name FROM sqlite_master WHERE type = 'table'\").fetchall():",
  "        for row in c.execute('SELECT * FROM \"%s\"' % t):",
  "            out.append(os.path.basename(path) + ':' + t + '\\t' + json.dumps(row, default=lambda b: bytes(b).decode('latin-1')))",
  'print(json.dumps(out))',
].join('\n'), dataDir], { encoding: 'utf8', maxBuffer: 64 << 20 }));

/** The files under `dir` (recursively) whose bytes contain one of `needles`. */
export function filesContaining(dir, needles) {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile() && needles.some((n) => readFileSync(f).includes(n)));
}
