// The OpenAPI 3.1 documents of the query and ingest APIs: valid as documents, served by the
// query Worker as they are in openapi/, and real responses of both Workers conform to them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { INGEST, QUERY, Stack } from './lib/stack.mjs';
import { documentPath, loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { dayRange, fixture, read, signed, upsert } from './lib/rollups.mjs';

let stack;
let app;
let query;
let ingest;
before(async () => {
  query = new ResponseChecker(await loadDocument('query'));
  ingest = new ResponseChecker(await loadDocument('ingest'));
  stack = await Stack.start();
  app = await stack.createApp();
  await stack.createLink(app.appId, { id: 'spec-link', destination: 'https://shop.example/landing', source: 'newsletter', medium: 'email', campaign: 'spring' });
});
after(() => stack?.dispose());

test('both documents are valid OpenAPI 3.1 and served as written', async () => {
  for (const [url, name] of [[`${QUERY}/openapi.json`, 'query'], [`${QUERY}/openapi/ingest.json`, 'ingest'], [`${INGEST}/openapi.json`, 'ingest']]) {
    const res = await stack.fetch(url);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, JSON.parse(readFileSync(documentPath(name), 'utf8')), `${url} is openapi/${name}.json`);
    assert.equal(res.json.openapi, '3.1.0');
  }
  await assert.rejects(loadDocument.call(null, 'missing'), 'a missing document does not pass');
});

test('query API responses conform to the document', async () => {
  const days = dayRange('2026-01-01', 5);
  const data = fixture(app.appId, days, { seed: 5 });
  const applied = await upsert(stack, data);
  query.check('/internal/rollups', 'post', applied);
  const token = app.readToken;
  const range = { from: days[0], to: days.at(-1) };
  for (const params of [range, { ...range, group_by: 'source,campaign,model' }, { ...range, group_by: 'model', order_by: 'conversions', limit: 3 }]) {
    query.check('/v1/stats', 'get', await read(stack, '/v1/stats', token, params));
  }
  const cached = await read(stack, '/v1/stats', token, range);
  assert.equal(cached.headers.get('x-cache'), 'hit');
  query.check('/v1/stats', 'get', cached);
  query.check('/v1/stats', 'get', await read(stack, '/v1/stats', token, 'limit=0'));
  query.check('/v1/stats', 'get', await read(stack, '/v1/stats', undefined, range));
  query.check('/v1/paths', 'get', await read(stack, '/v1/paths', token, range));
  query.check('/v1/paths', 'get', await read(stack, '/v1/paths', token, 'min_steps=3&max_steps=1'));
  query.check('/v1/fraud', 'get', await read(stack, '/v1/fraud', token, { ...range, group_by: 'day' }));
  query.check('/v1/app', 'get', await read(stack, '/v1/app', token));
  query.check('/healthz', 'get', await stack.fetch(`${QUERY}/healthz`));

  await stack.segment('/v1/page', { userId: 'spec-user', context: { page: { url: 'https://shop.example/?utm_source=google&utm_medium=cpc' } } }, { key: app.writeKey });
  await stack.segment('/v1/track', { userId: 'spec-user', event: 'Order Completed', properties: { revenue: 10, currency: 'EUR' } }, { key: app.writeKey });
  const journey = await stack.journey('spec-user', token);
  assert.equal(journey.json.conversions.length, 1);
  query.check('/v1/journeys/{user_id}', 'get', journey);
  query.check('/v1/journeys/{user_id}', 'get', await stack.journey('nobody', token));
  query.check('/v1/journeys/{user_id}', 'get', await stack.journey('spec-user', token, { type: 'robot' }));

  const bad = JSON.stringify({ days: [{ app_id: app.appId, day: 'yesterday' }] });
  query.check('/internal/rollups', 'post', await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: bad, headers: signed(bad, stack.secret) }));
  query.check('/internal/rollups', 'post', await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: bad, headers: signed(bad, 'wrong') }));
  assert.ok(query.checked.size >= 12, `checked ${[...query.checked].join(', ')}`);
});

test('ingest API responses conform to the document', async () => {
  const key = app.writeKey;
  ingest.check('/v1/track', 'post', await stack.segment('/v1/track', { userId: 'u1', event: 'Signed Up' }, { key }));
  ingest.check('/v1/identify', 'post', await stack.segment('/v1/identify', { userId: 'u1', traits: { plan: 'pro' } }, { key }));
  ingest.check('/v1/page', 'post', await stack.segment('/v1/page', { anonymousId: 'a1', name: 'Home' }, { key }));
  ingest.check('/v1/batch', 'post', await stack.segment('/v1/batch', { batch: [{ type: 'track', userId: 'u2', event: 'x' }, { type: 'track', userId: 'u2', timestamp: 'yesterday', event: 'y' }] }, { key }));
  ingest.check('/v1/batch', 'post', await stack.segment('/v1/batch', { batch: [{ type: 'track', event: 'no user' }] }, { key }));
  ingest.check('/v1/track', 'post', await stack.segment('/v1/track', 'not json', { key }));
  ingest.check('/v1/track', 'post', await stack.segment('/v1/track', { userId: 'u1', event: 'x' }, { key: 'wk_unknown' }));
  ingest.check('/c/{link_id}', 'get', await stack.fetch(`${INGEST}/c/spec-link?anonymous_id=a9`));
  ingest.check('/c/{link_id}', 'get', await stack.fetch(`${INGEST}/c/no-such-link`));
  ingest.check('/i/{link_id}', 'get', await stack.fetch(`${INGEST}/i/spec-link?anonymous_id=a9`));
  ingest.check('/i/{link_id}', 'get', await stack.fetch(`${INGEST}/i/spec-link`));
  ingest.check('/healthz', 'get', await stack.fetch(`${INGEST}/healthz`));
  assert.ok(ingest.checked.size >= 8, `checked ${[...ingest.checked].join(', ')}`);
});
