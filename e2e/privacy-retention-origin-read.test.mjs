// Issue 12, retention per app at the origin: the query Worker's signed
// `GET /internal/retention` answers every app's `retention_days` (paged by id) for the
// origin, which applies them to ClickHouse and its embedded store (origin/src/retention.rs).
// Real workerd: it refuses an unsigned, a wrongly signed and a replayed-elsewhere request, and
// answers the apps' own settings and the default with the rollup key.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { signHeader } from './lib/signing.mjs';
import { QUERY, Stack } from './lib/stack.mjs';

const PATH = '/internal/retention';

let stack;
let checker;
before(async () => {
  stack = await Stack.start();
  checker = new ResponseChecker(await loadDocument('query'));
});
after(async () => {
  await stack?.dispose();
});

// Every answer is checked against openapi/query.json.
const get = async (pathAndQuery, header) => {
  const res = await stack.fetch(`${QUERY}${pathAndQuery}`, { headers: header ? { 'x-attrib-signature': header } : {} });
  checker.check(PATH, 'get', res);
  return res;
};
const signed = (pathAndQuery, opts = {}) =>
  get(pathAndQuery, signHeader(opts.secret ?? stack.secret, opts.direction ?? 'rollups', pathAndQuery, '', { method: 'GET' }));

test('an unsigned or wrongly signed retention read is refused with the JSON error shape', async () => {
  const unsigned = await get(PATH);
  assert.equal(unsigned.status, 401, unsigned.text);
  assert.equal(unsigned.json.error.code, 'invalid_signature', unsigned.text);

  const wrongSecret = await signed(PATH, { secret: 'not-the-deployment-secret' });
  assert.equal(wrongSecret.status, 401, wrongSecret.text);
  const outboxKey = await signed(PATH, { direction: 'outbox' });
  assert.equal(outboxKey.status, 401, 'the edge → origin key does not read this');
  // Signed for the first page, sent for another: the query string is signed too.
  const header = signHeader(stack.secret, 'rollups', PATH, '', { method: 'GET' });
  const moved = await get(`${PATH}?after=zzz`, header);
  assert.equal(moved.status, 401, moved.text);
  const asPost = await stack.fetch(`${QUERY}${PATH}`, { method: 'POST', headers: { 'x-attrib-signature': header }, body: '' });
  assert.notEqual(asPost.status, 200, 'only GET reads');
});

test('a signed read answers each app its own retention_days and the default', async () => {
  const short = await stack.createApp({ id: 'ret-a-short', settings: { retention_days: 7 } });
  const plain = await stack.createApp({ id: 'ret-b-plain' });
  const res = await signed(PATH);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.default_days, 395);
  assert.equal(res.json.apps[short.appId], 7);
  assert.equal(res.json.apps[plain.appId], 395, 'an app left at the default is named with it');
  assert.equal(res.json.next, undefined, 'one page holds every app');

  const later = await signed(`${PATH}?after=${short.appId}`);
  assert.equal(later.status, 200, later.text);
  assert.equal(later.json.apps[short.appId], undefined, 'the page starts after the cursor');
  assert.equal(later.json.apps[plain.appId], 395);

  const unknown = await signed(`${PATH}?limit=5`);
  assert.equal(unknown.status, 400, unknown.text);
  assert.equal(unknown.json.error.field, 'limit', unknown.text);
});

test('more apps than a page are answered page by page after the cursor', async () => {
  const db = await stack.d1();
  const ids = Array.from({ length: 1001 }, (_, i) => `page-${String(i).padStart(4, '0')}`);
  await db.batch(ids.map((id, i) => db.prepare('INSERT INTO apps (id, name, retention_days) VALUES (?1, ?1, ?2)').bind(id, 1 + (i % 30))));
  const first = await signed(`${PATH}?after=page-`);
  assert.equal(first.status, 200, first.text.slice(0, 300));
  const names = Object.keys(first.json.apps);
  assert.equal(names.length, 1000, 'RETENTION_APPS_PER_PAGE');
  assert.equal(names[0], 'page-0000');
  assert.equal(first.json.next, 'page-0999');
  assert.equal(first.json.apps['page-0031'], 2);
  const second = await signed(`${PATH}?after=${first.json.next}`);
  assert.equal(second.status, 200, second.text.slice(0, 300));
  assert.equal(second.json.apps['page-1000'], 1 + (1000 % 30));
  assert.equal(second.json.apps['page-0999'], undefined);
  assert.equal(second.json.next, undefined, 'the last page names no next');

  const long = await signed(`${PATH}?after=${'x'.repeat(65)}`);
  assert.equal(long.status, 400, long.text);
  assert.equal(long.json.error.field, 'after');
});
