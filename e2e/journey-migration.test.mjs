// A Journey object stored by the previous schema (version 6) upgrades itself on its first call
// after a deploy (issue 15, version 7): its facts are kept, its new events keep their records
// in their rows and reach the origin, and it ends with none of the indexes later versions
// dropped. Objects that went through several versions had two of those back: migrations ran
// the first schema's statements again, which re-made `events_by_time` and the old
// `attributions_by_order` (each a row written per insert). The v6 object is made from a
// current one by rewriting its SQLite file, as a v6 build left it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { recordIds, withPersistedStack } from './lib/persisted.mjs';
import { eventually } from './lib/receiver.mjs';
import { at, HOUR } from './lib/stack.mjs';

const TO_V6 = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript('''
BEGIN;
-- A v6 build made every table with the object; this one was made by the current build,
-- which makes these on first use.
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, records INTEGER NOT NULL, bytes INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS merged_from (journey TEXT PRIMARY KEY, merged_at_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS postbacks (key TEXT PRIMARY KEY, conversion_id TEXT NOT NULL, network TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER, last_status INTEGER, last_error TEXT, last_attempt_ms INTEGER, body TEXT NOT NULL, device_ids TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS postbacks_due ON postbacks (status, next_attempt_ms);
CREATE TABLE IF NOT EXISTS postback_attempts (key TEXT NOT NULL, attempt INTEGER NOT NULL, at_ms INTEGER NOT NULL, status INTEGER, error TEXT, outcome TEXT NOT NULL, duration_ms INTEGER NOT NULL, logged INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (key, attempt)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS postback_attempts_unlogged ON postback_attempts (logged);
CREATE TABLE IF NOT EXISTS dead_letters (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE events_v6 (message_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO events_v6 SELECT message_id, ts_ms, body FROM events;
DROP TABLE events;
ALTER TABLE events_v6 RENAME TO events;
CREATE INDEX events_by_time ON events (ts_ms);
CREATE TABLE touches_v6 (touch_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO touches_v6 SELECT touch_id, ts_ms, body FROM touches;
DROP TABLE touches;
ALTER TABLE touches_v6 RENAME TO touches;
CREATE INDEX touches_by_time ON touches (ts_ms);
CREATE TABLE attributions_v6 (conversion_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, name TEXT NOT NULL, order_id TEXT, rejected TEXT, body TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO attributions_v6 SELECT conversion_id, ts_ms, name, order_id, rejected, body FROM attributions;
DROP TABLE attributions;
ALTER TABLE attributions_v6 RENAME TO attributions;
CREATE INDEX attributions_by_time ON attributions (ts_ms);
CREATE INDEX attributions_by_name ON attributions (name, ts_ms);
CREATE INDEX attributions_by_order_v4 ON attributions (name, order_id) WHERE order_id IS NOT NULL;
CREATE INDEX attributions_by_order ON attributions (name, order_id);
DELETE FROM meta WHERE key = 'sent_seq';
UPDATE meta SET value = '6' WHERE key = 'schema_version';
COMMIT;
''')
# A v6 build kept each meta value in its own row; the current one packs some into 'journey'.
for (packed,) in db.execute("SELECT value FROM meta WHERE key = 'journey'").fetchall():
    for name, value in json.loads(packed).items():
        db.execute('INSERT INTO meta (key, value) VALUES (?, ?)', (name, json.dumps(value)))
db.execute("DELETE FROM meta WHERE key = 'journey'")
db.commit()
`;

const SHAPE = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(json.dumps({
  'indexes': sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")),
  'tables': {r[0]: r[1] for r in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")},
  'version': db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0],
  'meta': {r[0]: json.loads(r[1]) for r in db.execute('SELECT key, value FROM meta')},
  'counts': {t: db.execute(f'SELECT count(*) FROM {t}').fetchone()[0] for t in ('events', 'touches', 'attributions') if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (t,)).fetchone()},
}))
`;

// Every table's columns (name, type, not null, key position; by name, as migrations add
// columns last) and every index's columns in order: what a query sees, whatever text made
// them (a migrated table's SQL reads differently).
const COLUMNS = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")]
print(json.dumps({n: sorted([list(c[1:3]) + [c[3], c[5]] for c in db.execute(f"PRAGMA table_info('{n}')")]) or [c[2] for c in db.execute(f"PRAGMA index_info('{n}')")] for n in names}))
`;

function journeyFiles(persist) {
  const dir = join(persist, 'do', 'attrib-ingest-JourneyObject');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite')
    .map((f) => join(dir, f));
}

function journeyFile(persist) {
  const files = journeyFiles(persist);
  assert.equal(files.length, 1, `one journey object: ${files}`);
  return files[0];
}

const python = (code, file) => execFileSync('python3', ['-c', code, file], { encoding: 'utf8' });

test('a journey object of schema 6 upgrades on its next call: facts kept, records sent, no index a later version dropped', () =>
  withPersistedStack(async ({ stack, origin, app, persist, send }) => {
    await send([
      { type: 'page', userId: 'mig-user', messageId: 'mg-1', timestamp: at(-2 * HOUR), context: { page: { url: 'https://s.example/?utm_source=spring&utm_medium=cpc' } } },
      { type: 'track', userId: 'mig-user', messageId: 'mg-2', timestamp: at(-HOUR), event: 'Order Completed', properties: { order_id: 'o-1', revenue: 5 } },
    ]);
    const view = async () => (await stack.journey('mig-user', app.readToken)).json;
    await eventually(async () => (await view()).outbox_pending === 0, { timeoutMs: 30_000 });
    await stack.stop();

    const file = journeyFile(persist);
    python(TO_V6, file);
    const old = JSON.parse(python(SHAPE, file));
    assert.equal(old.version, '6');
    assert.ok(old.meta.key && old.meta.placement && old.meta.windows && !old.meta.journey, 'the v6 object keeps its values in rows of their own');
    assert.ok(old.indexes.includes('events_by_time') && old.indexes.includes('attributions_by_order'));

    await stack.resume();
    await send([
      { type: 'track', userId: 'mig-user', messageId: 'mg-3', event: 'Order Completed', properties: { order_id: 'o-2', revenue: 7 } },
      // The order id already stored before the upgrade is still known: not a second conversion.
      { type: 'track', userId: 'mig-user', messageId: 'mg-4', event: 'Order Completed', properties: { order_id: 'o-1', revenue: 5 } },
    ]);
    await eventually(() => origin.records().some((r) => r.kind === 'attribution' && r.result.conversion.conversion_id === 'mg-3'), { timeoutMs: 30_000 });
    const after = await view();
    assert.equal(after.event_count, 4);
    assert.equal(after.touches.length, 1);
    assert.deepEqual(after.conversions.map((c) => c.conversion.conversion_id).sort(), ['mg-2', 'mg-3']);
    const credited = after.conversions.find((c) => c.conversion.conversion_id === 'mg-3');
    assert.ok(JSON.stringify(credited).includes('spring'), 'the conversion after the upgrade is credited to the touch from before it');
    await eventually(async () => (await view()).outbox_pending === 0, { timeoutMs: 30_000 });
    await stack.stop();

    const now = JSON.parse(python(SHAPE, file));
    assert.equal(now.version, '7');
    assert.deepEqual(now.counts, { events: 4, touches: 1, attributions: 2 });
    assert.deepEqual(now.indexes, ['attributions_by_order_v4', 'postback_attempts_unlogged', 'postbacks_due']);
    assert.match(now.tables.touches, /PRIMARY KEY \(ts_ms, touch_id\)\) WITHOUT ROWID/);
    assert.match(now.tables.attributions, /PRIMARY KEY \(ts_ms, conversion_id\)\) WITHOUT ROWID/);
    assert.match(now.tables.events, /seq INTEGER/);
    assert.deepEqual(recordIds(origin), ['attribution:mg-2', 'attribution:mg-3', 'event:mg-1', 'event:mg-2', 'event:mg-3', 'event:mg-4'], 'each record once');

    // A new object builds the same schema at once, but for
    // the tables many journeys never need (touches and conversions among them), made on first
    // use (durable-objects/src/extras.rs).
    await stack.resume();
    await send([{ type: 'track', userId: 'new-user', messageId: 'mg-new', event: 'Product Viewed' }]);
    await eventually(async () => (await stack.journey('new-user', app.readToken)).json.event_count === 1, { timeoutMs: 30_000 });
    await stack.stop();
    const fresh = journeyFiles(persist).find((f) => f !== file);
    assert.ok(fresh, 'the new journey has its own object');
    const freshShape = JSON.parse(python(SHAPE, fresh));
    assert.equal(freshShape.version, '7');
    // Its key, placement, windows and retention went into one row, written once (issue 15).
    const { journey: packed, ...rows } = freshShape.meta;
    assert.deepEqual(Object.keys(packed).sort(), ['key', 'placement', 'retention', 'windows']);
    assert.match(JSON.stringify(packed.key), /new-user/);
    assert.deepEqual(Object.keys(rows).filter((k) => !['schema_version', 'sent_seq'].includes(k)), []);
    const [migrated, created] = [JSON.parse(python(COLUMNS, file)), JSON.parse(python(COLUMNS, fresh))];
    const later = ['attributions', 'attributions_by_order_v4', 'dead_letters', 'merged_from', 'outbox', 'postback_attempts', 'postback_attempts_unlogged', 'postbacks', 'postbacks_due', 'touches'];
    assert.deepEqual(Object.keys(migrated).filter((n) => !(n in created)).sort(), later);
    assert.deepEqual(Object.keys(created).filter((n) => !(n in migrated)), []);
    for (const name of Object.keys(created)) assert.deepEqual(created[name], migrated[name], name);

    // Its first touch and first conversion make their tables, as a migrated object has them.
    await stack.resume();
    await send([
      { type: 'page', userId: 'new-user', messageId: 'mg-new-page', context: { page: { url: 'https://s.example/?utm_source=fall&utm_medium=cpc' } } },
      { type: 'track', userId: 'new-user', messageId: 'mg-new-order', event: 'Order Completed', properties: { order_id: 'o-9', revenue: 3 } },
    ]);
    const converted = async () => (await stack.journey('new-user', app.readToken)).json;
    await eventually(async () => (await converted()).conversions?.length === 1, { timeoutMs: 30_000 });
    assert.ok(JSON.stringify((await converted()).conversions).includes('fall'), 'the conversion is credited to the touch');
    await stack.stop();
    const grown = JSON.parse(python(COLUMNS, fresh));
    for (const name of ['attributions', 'attributions_by_order_v4', 'touches']) assert.deepEqual(grown[name], migrated[name], name);
    await stack.resume();
  }));
