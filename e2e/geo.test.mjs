// Geo-routing with injected request.cf: where new journeys are placed and which origin
// region their outbox flushes to.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CF, Stack } from './lib/stack.mjs';

let stack;
let globalApp;
let euApp;
before(async () => {
  stack = await Stack.start();
  globalApp = await stack.createApp({ residency: 'global' });
  euApp = await stack.createApp({ residency: 'eu' });
});
after(() => stack?.dispose());

const cases = [
  ['NA', { location_hint: 'wnam', origin_region: 'us' }],
  ['EU', { location_hint: 'weur', origin_region: 'eu' }],
  ['APAC', { location_hint: 'apac', origin_region: 'apac' }],
];

for (const [where, expected] of cases) {
  test(`a request from ${where} places a global app's journey nearby`, async () => {
    const user = `geo-${where}`;
    const res = await stack.segment('/v1/identify', { userId: user }, { key: globalApp.writeKey, cf: CF[where] });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.placement, expected);
    const view = (await stack.journey(user, globalApp.readToken)).json;
    assert.deepEqual(view.placement, expected, 'the journey keeps the placement it was created with');
  });
}

test('an EU-resident app keeps every journey in the EU jurisdiction, wherever the user is', async () => {
  for (const where of ['NA', 'APAC', 'EU']) {
    const user = `eu-${where}`;
    const res = await stack.segment('/v1/identify', { userId: user }, { key: euApp.writeKey, cf: CF[where] });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.placement.jurisdiction, 'eu');
    assert.equal(res.json.placement.origin_region, 'eu');
    assert.equal(res.json.placement.location_hint, 'weur');
    const view = (await stack.journey(user, euApp.readToken)).json;
    assert.equal(view.placement.jurisdiction, 'eu');
  }
});

test('a journey keeps its first placement when the user travels', async () => {
  await stack.segment('/v1/identify', { userId: 'traveller' }, { key: globalApp.writeKey, cf: CF.EU });
  await stack.segment('/v1/identify', { userId: 'traveller', traits: { a: 1 } }, { key: globalApp.writeKey, cf: CF.APAC });
  const view = (await stack.journey('traveller', globalApp.readToken)).json;
  assert.equal(view.placement.origin_region, 'eu');
  assert.equal(view.event_count, 2);
});

test('no geo data falls back to the default region', async () => {
  const res = await stack.segment('/v1/identify', { userId: 'nowhere' }, { key: globalApp.writeKey, cf: { continent: null, country: null, longitude: null, latitude: null } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.placement, { origin_region: 'us' });
});
