// Bad input: every request here is answered 4xx with a JSON error naming the field and the
// reason, and nothing is stored for anyone it names.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { INGEST, Stack } from './lib/stack.mjs';

let stack;
let app;
before(async () => {
  stack = await Stack.start();
  app = await stack.createApp();
  await stack.createLink(app.appId, { id: 'good-link', destination: 'https://shop.example/', source: 's', medium: 'cpc' });
});
after(() => stack?.dispose());

const ok = (n, extra = {}) => ({ userId: `bad-${n}`, event: 'E', ...extra });
const big = 'x'.repeat(33 * 1024);

// [name, path, body, expected status, expected field, options]
const catalogue = [
  ['invalid JSON', '/v1/track', '{"userId": "bad-1",', 400, 'body'],
  ['JSON array body', '/v1/track', '[1,2]', 400, 'body'],
  ['JSON string body', '/v1/batch', '"hello"', 400, 'body'],
  ['empty body', '/v1/track', '', 400, 'body'],
  ['not UTF-8', '/v1/track', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 400, 'body'],
  ['body over 500 KB', '/v1/batch', JSON.stringify({ batch: [ok(6, { properties: { blob: 'y'.repeat(520 * 1024) } })] }), 413, 'body'],
  ['batch missing', '/v1/batch', { writeKey: 'x' }, 400, 'batch'],
  ['batch not an array', '/v1/batch', { batch: { type: 'track' } }, 400, 'batch'],
  ['batch empty', '/v1/batch', { batch: [] }, 400, 'batch'],
  ['batch over 1000 events', '/v1/batch', { batch: Array.from({ length: 1001 }, () => ({ type: 'identify', userId: 'bad-10' })) }, 400, 'batch'],
  ['track without event', '/v1/track', { userId: 'bad-11' }, 400, 'event'],
  ['event name not a string', '/v1/track', ok(12, { event: 42 }), 400, 'event'],
  ['event name too long', '/v1/track', ok(13, { event: 'e'.repeat(257) }), 400, 'event'],
  ['no userId or anonymousId', '/v1/track', { event: 'E', properties: { n: 14 } }, 400, 'userId'],
  ['userId an object', '/v1/identify', { userId: { id: 'bad-15' } }, 400, 'userId'],
  ['userId empty', '/v1/identify', { userId: '' , anonymousId: null }, 400, 'userId'],
  ['userId too long', '/v1/identify', { userId: 'u'.repeat(257) }, 400, 'userId'],
  ['anonymousId a boolean', '/v1/identify', { userId: 'bad-18', anonymousId: true }, 400, 'anonymousId'],
  ['messageId too long', '/v1/track', ok(19, { messageId: 'm'.repeat(300) }), 400, 'messageId'],
  ['timestamp not a date', '/v1/track', ok(20, { timestamp: 'yesterday' }), 400, 'timestamp'],
  ['timestamp without time', '/v1/track', ok(21, { timestamp: '2024-05-01' }), 400, 'timestamp'],
  ['timestamp without timezone', '/v1/track', ok(22, { timestamp: '2024-05-01T10:00:00' }), 400, 'timestamp'],
  ['timestamp as a number', '/v1/track', ok(23, { timestamp: 1714557600000 }), 400, 'timestamp'],
  ['sentAt malformed', '/v1/track', ok(24, { sentAt: '01/05/2024' }), 400, 'sentAt'],
  ['properties an array', '/v1/track', ok(25, { properties: [1, 2] }), 400, 'properties'],
  ['context a string', '/v1/page', { userId: 'bad-26', context: 'mobile' }, 400, 'context'],
  ['traits a number', '/v1/identify', { userId: 'bad-27', traits: 7 }, 400, 'traits'],
  ['integrations a list', '/v1/track', ok(28, { integrations: ['All'] }), 400, 'integrations'],
  ['group without groupId', '/v1/group', { userId: 'bad-29' }, 400, 'groupId'],
  ['alias without previousId', '/v1/alias', { userId: 'bad-30' }, 400, 'previousId'],
  ['batch item of unknown type', '/v1/batch', { batch: [{ type: 'purchase', userId: 'bad-31' }] }, 400, 'batch[0].type'],
  ['batch item not an object', '/v1/batch', { batch: ['track'] }, 400, 'batch[0]'],
  ['batch-level sentAt malformed', '/v1/batch', { sentAt: 'soon', batch: [{ type: 'identify', userId: 'bad-33' }] }, 400, 'sentAt'],
  ['batch-level context not an object', '/v1/batch', { context: [], batch: [{ type: 'identify', userId: 'bad-34' }] }, 400, 'context'],
  ['conversion revenue as text', '/v1/track', ok(35, { event: 'Order Completed', properties: { revenue: '12.50' } }), 400, 'properties.revenue'],
  ['conversion currency not ISO 4217', '/v1/track', ok(36, { event: 'Order Completed', properties: { revenue: 1, currency: 'dollars' } }), 400, 'properties.currency'],
  ['event over 32 KB', '/v1/track', ok(37, { properties: { blob: big } }), 400, 'event'],
  ['writeKey in body not a string', '/v1/track', ok(38, { writeKey: 123 }), 400, 'writeKey', { noKey: true }],
];

test(`a catalogue of ${catalogue.length} malformed requests: 4xx, JSON error, nothing stored`, async () => {
  assert.ok(catalogue.length >= 25);
  for (const [name, path, body, status, field, options = {}] of catalogue) {
    const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const res = await stack.fetch(`${INGEST}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(options.noKey ? {} : { authorization: `Basic ${Buffer.from(`${app.writeKey}:`).toString('base64')}` }),
      },
      body: payload,
    });
    assert.equal(res.status, status, `${name}: ${res.text.slice(0, 300)}`);
    assert.ok(res.json, `${name}: body is JSON`);
    assert.equal(res.json.success, false, name);
    assert.equal(res.json.error.field, field, `${name}: ${JSON.stringify(res.json.error)}`);
    assert.ok(res.json.error.reason?.length > 0, `${name}: a reason`);
  }
  for (let n = 1; n <= 38; n++) {
    const journey = await stack.journey(`bad-${n}`, app.readToken);
    assert.equal(journey.status, 404, `bad-${n} has no journey: ${journey.text.slice(0, 200)}`);
  }
});

test('other refusals are JSON too', async () => {
  const cases = [
    [`${INGEST}/v1/track`, { method: 'GET' }, 405],
    [`${INGEST}/v1/unknown`, { method: 'POST', body: '{}' }, 404],
    [`${INGEST}/nothing-here`, {}, 404],
    [`${INGEST}/c/no-such-link`, {}, 404],
    [`${INGEST}/c/bad%20id`, {}, 404],
    [`${INGEST}/i/good-link`, {}, 400],
    [`${INGEST}/i/good-link?anonymous_id=${'a'.repeat(300)}`, {}, 400],
    [`${INGEST}/c/good-link?user_id=`, {}, 400],
  ];
  for (const [url, init, status] of cases) {
    const res = await stack.fetch(url, init);
    assert.equal(res.status, status, `${url}: ${res.text.slice(0, 200)}`);
    assert.equal(res.json?.success, false, `${url} answers JSON`);
    assert.ok(res.json.error.code);
  }
});

test('a bad event never poisons its good neighbours', async () => {
  const res = await stack.segment('/v1/batch', {
    batch: [
      { type: 'track', userId: 'neighbour', event: 'Good', messageId: 'n-1' },
      { type: 'track', userId: 'neighbour', messageId: 'n-2' },
      { type: 'track', userId: 'neighbour', event: 'Order Completed', messageId: 'n-3', properties: { revenue: 'lots' } },
      { type: 'page', userId: 'neighbour', messageId: 'n-4' },
    ],
  }, { key: app.writeKey });
  assert.equal(res.status, 207, res.text);
  assert.equal(res.json.accepted, 2);
  assert.deepEqual(
    res.json.rejected.map((r) => [r.index, r.messageId, r.errors[0].field]),
    [[1, 'n-2', 'batch[1].event'], [2, 'n-3', 'batch[2].properties.revenue']],
  );
  const view = (await stack.journey('neighbour', app.readToken)).json;
  assert.equal(view.event_count, 2);
  assert.equal(view.conversions.length, 0);
});
