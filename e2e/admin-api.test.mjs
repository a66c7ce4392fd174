// The management API through the real query Worker in workerd: every resource's create, read,
// update and delete, validation errors naming the field, scope refusals, key revocation and
// rotation reaching the ingest Worker, compare-and-set conflicts, the audit log; and what it
// configures working for real (a key used by @segment/analytics-node, a link redirecting, a
// postback delivered). Answers are checked against openapi/query.json.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { startPostbackReceiver } from './lib/postback-receiver.mjs';
import { eventually } from './lib/receiver.mjs';
import { at, INGEST, QUERY, Stack } from './lib/stack.mjs';

// The edge's key cache is shortened to 1 s here (AUTH_CACHE_TTL_SECS; 60 s by default).
const TTL_MS = 1_000;
let stack;
let admin;
let checker;
let network;
before(async () => {
  network = await startPostbackReceiver();
  stack = await Stack.start({ vars: { AUTH_CACHE_TTL_SECS: '1' } });
  checker = new ResponseChecker(await loadDocument('query'));
  admin = new AdminClient(stack, stack.adminToken, checker);
});
after(async () => {
  await stack?.dispose();
  network?.close();
});

const expectStatus = (res, status) => assert.equal(res.status, status, `${res.status} ${res.text}`);
const expectField = (res, status, field) => {
  expectStatus(res, status);
  assert.equal(res.json.success, false);
  assert.equal(res.json.error.field, field, res.text);
  assert.ok(res.json.error.reason, res.text);
};
const track = (key, body) => stack.segment('/v1/track', { messageId: `m-${Math.random()}`, event: 'Viewed', userId: 'u', ...body }, { key });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const newApp = async (name = 'Shop') => {
  const res = await admin.post('/apps', { id: `shop-${++seq}-${Date.now() % 100000}`, name });
  expectStatus(res, 201);
  return res.json;
};
const issue = async (appId, kind, label) => {
  const res = await admin.post(`/apps/${appId}/keys`, { kind, ...(label ? { label } : {}) });
  expectStatus(res, 201);
  return res.json;
};

test('whoami names the admin, or the manage key and its app', async () => {
  const me = await admin.get('/whoami');
  expectStatus(me, 200);
  assert.equal(me.json.kind, 'admin');
  const app = await newApp();
  const mk = await issue(app.id, 'manage');
  const them = await admin.as(mk.secret).get('/whoami');
  assert.deepEqual([them.json.kind, them.json.app_id, them.json.key_id], ['manage', app.id, mk.id]);
});

describe('apps', () => {
  test('create, list, show, rename, archive and restore', async () => {
    const app = await newApp('First name');
    assert.deepEqual([app.version, app.archived, app.name], [1, false, 'First name']);
    expectField(await admin.post('/apps', { id: app.id, name: 'again' }), 409, 'id');
    expectField(await admin.post('/apps', { id: 'has:colon', name: 'x' }), 400, 'id');
    expectField(await admin.post('/apps', { id: 'ok-id' }), 400, 'name');
    expectField(await admin.post('/apps', { name: 'x', colour: 'red' }), 400, 'colour');
    expectField(await admin.post('/apps', '{not json'), 400, 'body');
    const generated = await admin.post('/apps', { name: 'No id given' });
    expectStatus(generated, 201);
    assert.match(generated.json.id, /^app_[0-9a-f]{12}$/);

    const list = await admin.get('/apps');
    assert.ok(list.json.apps.some((a) => a.id === app.id));
    const shown = await admin.get(`/apps/${app.id}`);
    assert.equal(shown.headers.get('etag'), '"1"');
    assert.equal(shown.headers.get('cache-control'), 'no-store');

    const renamed = await admin.patch(`/apps/${app.id}`, { name: 'Second name' }, { headers: { 'if-match': '"1"' } });
    expectStatus(renamed, 200);
    assert.deepEqual([renamed.json.name, renamed.json.version], ['Second name', 2]);
    expectField(await admin.patch(`/apps/${app.id}`, { name: 'Stale' }, { headers: { 'if-match': '"1"' } }), 409, 'version');
    expectField(await admin.patch(`/apps/${app.id}`, { name: 'Stale', version: 1 }), 409, 'version');

    const wk = await issue(app.id, 'write');
    expectStatus(await track(wk.secret, {}), 200);
    const archived = await admin.post(`/apps/${app.id}/archive`);
    expectStatus(archived, 200);
    assert.equal(archived.json.archived, true);
    assert.ok(!(await admin.get('/apps')).json.apps.some((a) => a.id === app.id), 'archived apps are not listed by default');
    assert.ok((await admin.get('/apps?archived=include')).json.apps.some((a) => a.id === app.id));
    await sleep(TTL_MS + 200);
    expectStatus(await track(wk.secret, {}), 401);
    expectStatus(await admin.post(`/apps/${app.id}/restore`), 200);
    await sleep(TTL_MS + 200);
    expectStatus(await track(wk.secret, {}), 200);
  });

  test('scopes: write keys and read tokens cannot manage; a manage key only its app', async () => {
    const a = await newApp('A');
    const b = await newApp('B');
    const [wk, rt, mkA] = [await issue(a.id, 'write'), await issue(a.id, 'read'), await issue(a.id, 'manage')];
    expectField(await admin.as(wk.secret).get(`/apps/${a.id}`), 403, 'authorization');
    expectField(await admin.as(rt.secret).get(`/apps/${a.id}/settings`), 403, 'authorization');
    expectField(await admin.as(rt.secret).post(`/apps/${a.id}/keys`, { kind: 'write' }), 403, 'authorization');
    expectField(await admin.as(undefined).get('/apps'), 401, 'authorization');
    expectField(await admin.as('at_not-a-real-token').get('/apps'), 401, 'authorization');
    const asA = admin.as(mkA.secret);
    expectStatus(await asA.get(`/apps/${a.id}`), 200);
    expectField(await asA.get(`/apps/${b.id}`), 403, 'app');
    expectField(await asA.patch(`/apps/${b.id}/settings`, { click_window_secs: 60 }), 403, 'app');
    expectField(await asA.get(`/apps/${b.id}/keys`), 403, 'app');
    expectField(await asA.post('/apps', { name: 'mine' }), 403, 'authorization');
    expectField(await asA.post(`/apps/${a.id}/archive`), 403, 'authorization');
    assert.deepEqual((await asA.get('/apps')).json.apps.map((x) => x.id), [a.id]);
    assert.equal((await admin.get(`/apps/${b.id}`)).json.version, 1, 'nothing was written to B');
  });
});

describe('keys', () => {
  test('issued once, listed without secrets, usable at once by @segment/analytics-node', async () => {
    const app = await newApp();
    const wk = await issue(app.id, 'write', 'web');
    assert.match(wk.secret, /^wk_[0-9a-f]{48}$/);
    assert.deepEqual([wk.kind, wk.label, wk.state], ['write', 'web', 'live']);
    const listed = await admin.get(`/apps/${app.id}/keys`);
    expectStatus(listed, 200);
    assert.ok(!listed.text.includes(wk.secret), 'the secret is never listed');
    assert.ok(listed.json.keys.every((k) => !('secret' in k) && !('key_hash' in k)));
    expectField(await admin.post(`/apps/${app.id}/keys`, { kind: 'admin' }), 400, 'kind');

    const analytics = new Analytics({ writeKey: wk.secret, host: stack.url.origin, flushAt: 2, flushInterval: 100 });
    const statuses = [];
    const errors = [];
    analytics.on('http_response', (res) => statuses.push(res.status));
    analytics.on('error', (err) => errors.push(err));
    analytics.identify({ userId: 'api-key-user', traits: { plan: 'pro' } });
    analytics.track({ userId: 'api-key-user', event: 'Signed Up' });
    await analytics.closeAndFlush({ timeout: 20_000 });
    assert.deepEqual(errors, []);
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), JSON.stringify(statuses));
    const rt = await issue(app.id, 'read');
    const view = await stack.journey('api-key-user', rt.secret);
    expectStatus(view, 200);
    assert.equal(view.json.event_count, 2);
  });

  test('revoking a key stops it at the edge within the cache time', async () => {
    const app = await newApp();
    const wk = await issue(app.id, 'write');
    const rt = await issue(app.id, 'read');
    expectStatus(await track(wk.secret, {}), 200);
    expectStatus(await stack.fetch(`${QUERY}/v1/app`, { headers: { authorization: `Bearer ${rt.secret}` } }), 200);
    const revoked = await admin.delete(`/apps/${app.id}/keys/${wk.id}`);
    expectStatus(revoked, 200);
    assert.equal(revoked.json.state, 'revoked');
    expectStatus(await admin.delete(`/apps/${app.id}/keys/${rt.id}`), 200);
    await sleep(TTL_MS + 200);
    expectStatus(await track(wk.secret, {}), 401);
    expectStatus(await stack.fetch(`${QUERY}/v1/app`, { headers: { authorization: `Bearer ${rt.secret}` } }), 401);
    expectStatus(await admin.get(`/apps/${app.id}/keys/key_0000000000000000`), 404);
  });

  test('a revoked manage key is refused by the management API at once', async () => {
    const app = await newApp();
    const mk = await issue(app.id, 'manage');
    expectStatus(await admin.as(mk.secret).get(`/apps/${app.id}`), 200);
    expectStatus(await admin.as(mk.secret).delete(`/apps/${app.id}/keys/${mk.id}`), 200);
    expectField(await admin.as(mk.secret).get(`/apps/${app.id}`), 401, 'authorization');
  });

  test('rotation: the old key works during the overlap, then stops; the new one works', async () => {
    const app = await newApp();
    const wk = await issue(app.id, 'write', 'server');
    expectField(await admin.post(`/apps/${app.id}/keys/${wk.id}/rotate`, { overlap_secs: 10 ** 9 }), 400, 'overlap_secs');
    const rotated = await admin.post(`/apps/${app.id}/keys/${wk.id}/rotate`, { overlap_secs: 3 });
    expectStatus(rotated, 201);
    const { key, previous } = rotated.json;
    assert.deepEqual([key.kind, key.label, key.rotated_from, previous.state], ['write', 'server', wk.id, 'expiring']);
    assert.ok(previous.expires_at);
    expectStatus(await track(key.secret, {}), 200);
    expectStatus(await track(wk.secret, {}), 200);
    expectField(await admin.post(`/apps/${app.id}/keys/${wk.id}/rotate`, {}), 409, 'key');
    await sleep(3_000 + TTL_MS + 300);
    expectStatus(await track(wk.secret, {}), 401);
    expectStatus(await track(key.secret, {}), 200);
    const states = Object.fromEntries((await admin.get(`/apps/${app.id}/keys`)).json.keys.map((k) => [k.id, k.state]));
    assert.deepEqual([states[wk.id], states[key.id]], ['expired', 'live']);
  });
});

describe('links', () => {
  test('created through the API, the link redirects; CRUD and validation', async () => {
    const app = await newApp();
    const created = await admin.post(`/apps/${app.id}/links`, {
      id: `spring-${app.id}`, destination_url: 'https://shop.example/landing', source: 'newsletter', medium: 'email', campaign: 'spring',
    });
    expectStatus(created, 201);
    assert.equal(created.json.tracking_url, `http://127.0.0.1:8787/c/spring-${app.id}`);
    const click = await stack.fetch(`${INGEST}/c/spring-${app.id}?anonymous_id=link-visitor`);
    expectStatus(click, 302);
    const location = new URL(click.headers.get('location'));
    assert.equal(`${location.origin}${location.pathname}`, 'https://shop.example/landing');

    expectField(await admin.post(`/apps/${app.id}/links`, { destination_url: 'http://shop.example/' }), 400, 'destination_url');
    expectField(await admin.post(`/apps/${app.id}/links`, { destination_url: 'javascript:alert(1)' }), 400, 'destination_url');
    expectField(await admin.post(`/apps/${app.id}/links`, { destination_url: 'https://x.example/', campaign: 'c'.repeat(300) }), 400, 'campaign');
    const other = await newApp();
    expectField(await admin.post(`/apps/${other.id}/links`, { id: `spring-${app.id}`, destination_url: 'https://x.example/' }), 409, 'id');
    expectStatus(await admin.get(`/apps/${other.id}/links/spring-${app.id}`), 404);

    const patched = await admin.patch(`/apps/${app.id}/links/spring-${app.id}`, { campaign: 'summer', medium: null });
    expectStatus(patched, 200);
    assert.deepEqual([patched.json.campaign, patched.json.medium, patched.json.source], ['summer', null, 'newsletter']);
    expectField(await admin.patch(`/apps/${app.id}/links/spring-${app.id}`, { destination_url: 'ftp://x' }), 400, 'destination_url');
    assert.equal((await admin.get(`/apps/${app.id}/links/spring-${app.id}`)).json.campaign, 'summer', 'a refused patch writes nothing');
    const listed = await admin.get(`/apps/${app.id}/links`);
    assert.deepEqual(listed.json.links.map((l) => l.id), [`spring-${app.id}`]);
    expectStatus(await admin.delete(`/apps/${app.id}/links/spring-${app.id}`), 200);
    expectStatus(await admin.get(`/apps/${app.id}/links/spring-${app.id}`), 404);
  });
});

describe('postbacks', () => {
  test('configured through the API: validated, test-fired, delivered for a real conversion', async () => {
    const app = await newApp();
    const url = `${network.url}/api-pb?key={idempotency_key}&click={click_id}&ev={event_name}&rev={revenue}`;
    expectField(await admin.post(`/apps/${app.id}/postbacks`, { network: 'newsy', url: 'https://{source}.example/pb' }), 400, 'url');
    expectField(await admin.post(`/apps/${app.id}/postbacks`, { network: 'newsy', url: 'http://10.0.0.8/pb' }), 400, 'url');
    expectField(await admin.post(`/apps/${app.id}/postbacks`, { network: 'newsy', url: 'https://n.example/?a={nope}' }), 400, 'url');
    expectField(await admin.post(`/apps/${app.id}/postbacks`, { network: 'Newsy', url: 'https://n.example/' }), 400, 'network');
    const created = await admin.post(`/apps/${app.id}/postbacks`, { network: 'newsy', url });
    expectStatus(created, 201);
    assert.deepEqual([created.json.method, created.json.enabled, created.json.events], ['GET', true, []]);
    expectField(await admin.post(`/apps/${app.id}/postbacks`, { network: 'newsy', url }), 409, 'network');

    const before = network.state.deliveries.length;
    const fired = await admin.post(`/apps/${app.id}/postbacks/newsy/test`);
    expectStatus(fired, 200);
    assert.equal(fired.json.response.status, 200);
    assert.equal(fired.json.response.delivered, true);
    assert.equal(fired.json.request.method, 'GET');
    const got = network.state.deliveries.slice(before);
    assert.equal(got.length, 1);
    assert.equal(`${network.url}${got[0].url}`, fired.json.request.url, 'the answer shows the exact request sent');
    assert.equal(got[0].key, fired.json.request.headers['Idempotency-Key']);

    const link = await admin.post(`/apps/${app.id}/links`, { id: `pb-${app.id}`, destination_url: 'https://shop.example/', source: 'newsy', medium: 'cpc' });
    expectStatus(link, 201);
    const wk = await issue(app.id, 'write');
    const click = await stack.fetch(`${INGEST}/c/pb-${app.id}?anonymous_id=pb-buyer`, { headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' } });
    expectStatus(click, 302);
    const clickId = new URL(click.headers.get('location')).searchParams.get('click_id');
    expectStatus(await stack.segment('/v1/track', {
      anonymousId: 'pb-buyer', messageId: `order-${app.id}`, event: 'Order Completed', timestamp: at(30_000), properties: { revenue: 12, currency: 'EUR' },
    }, { key: wk.secret }), 200);
    const delivered = await eventually(() => network.state.deliveries.find((d) => d.url.startsWith('/api-pb') && d.url.includes(`click=${clickId}`)));
    const query = new URL(delivered.url, network.url).searchParams;
    assert.deepEqual([query.get('ev'), query.get('rev')], ['Order Completed', '12']);
    const attempts = await eventually(async () => {
      const res = await admin.get(`/apps/${app.id}/postback-attempts`);
      return res.json.attempts.find((a) => a.outcome === 'delivered') && res;
    });
    assert.equal(attempts.json.app_id, app.id);

    const off = await admin.patch(`/apps/${app.id}/postbacks/newsy`, { enabled: false, events: ['Order Completed'] });
    expectStatus(off, 200);
    assert.deepEqual([off.json.enabled, off.json.events], [false, ['Order Completed']]);
    expectField(await admin.patch(`/apps/${app.id}/postbacks/newsy`, { url: 'http://localhost.localdomain/' }), 400, 'url');
    expectStatus(await admin.delete(`/apps/${app.id}/postbacks/newsy`), 200);
    expectStatus(await admin.get(`/apps/${app.id}/postbacks/newsy`), 404);
    assert.deepEqual((await admin.get(`/apps/${app.id}/postbacks`)).json.postbacks, []);
  });
});

describe('settings', () => {
  test('merge-patch, validation naming the field with nothing half-written, concurrent updates 409', async () => {
    const app = await newApp();
    const shown = await admin.get(`/apps/${app.id}/settings`);
    expectStatus(shown, 200);
    assert.equal(shown.json.settings.click_window_secs, 604800);
    const version = shown.json.version;

    for (const [patch, field] of [
      [{ click_window_secs: 0 }, 'click_window_secs'],
      [{ default_model: 'best' }, 'default_model'],
      [{ residency: 'mars' }, 'residency'],
      [{ conversion_events: [''] }, 'conversion_events'],
      [{ fraud_rules: { timestamps: { max_future_secs: 1 } } }, 'fraud_rules.timestamps.max_future_secs'],
      [{ surprise: true }, 'surprise'],
      [{ view_window_secs: 3600, click_window_secs: -5 }, 'click_window_secs'],
    ]) {
      expectField(await admin.patch(`/apps/${app.id}/settings`, patch), 400, field);
    }
    const unchanged = await admin.get(`/apps/${app.id}/settings`);
    assert.deepEqual(unchanged.json, shown.json, 'refused patches wrote nothing (view_window_secs neither)');

    const patched = await admin.patch(`/apps/${app.id}/settings`, {
      click_window_secs: 3600, default_model: 'linear', conversion_events: ['Signed Up'], fraud_rules: { click_injection: { min_ctit_secs: 5 } }, residency: 'eu',
    }, { headers: { 'if-match': `"${version}"` } });
    expectStatus(patched, 200);
    assert.equal(patched.json.version, version + 1);
    assert.deepEqual([patched.json.settings.click_window_secs, patched.json.settings.default_model, patched.json.settings.residency], [3600, 'linear', 'eu']);
    assert.equal(patched.json.settings.fraud_rules.click_injection.min_ctit_secs, 5);
    assert.equal(patched.json.settings.view_window_secs, 86400, 'fields not in the patch keep their values');

    // The edge loads what was written: a read token sees the new settings.
    const rt = await issue(app.id, 'read');
    const seen = await stack.fetch(`${QUERY}/v1/app`, { headers: { authorization: `Bearer ${rt.secret}` } });
    expectStatus(seen, 200);
    assert.ok(seen.text.includes('linear'), seen.text);

    // Two writers that read the same version: one wins, the other gets 409, neither is lost.
    const current = (await admin.get(`/apps/${app.id}/settings`)).json.version;
    const [x, y] = await Promise.all([
      admin.patch(`/apps/${app.id}/settings`, { click_window_secs: 7200, version: current }),
      admin.patch(`/apps/${app.id}/settings`, { view_window_secs: 60, version: current }),
    ]);
    assert.deepEqual([x.status, y.status].sort(), [200, 409], `${x.text} ${y.text}`);
    const loser = x.status === 409 ? x : y;
    assert.equal(loser.json.error.field, 'version');
    const final = (await admin.get(`/apps/${app.id}/settings`)).json;
    assert.equal(final.version, current + 1);
    // Many writers without a precondition: every change lands or is refused, none silently lost.
    const many = await Promise.all([1, 2, 3, 4].map((i) => admin.patch(`/apps/${app.id}/settings`, { click_window_secs: 3600 * i })));
    const won = many.filter((r) => r.status === 200);
    assert.ok(won.length >= 1 && many.every((r) => r.status === 200 || r.status === 409));
    assert.equal((await admin.get(`/apps/${app.id}`)).json.version, current + 1 + won.length);
    const reset = await admin.patch(`/apps/${app.id}/settings`, { click_window_secs: null });
    assert.equal(reset.json.settings.click_window_secs, 604800, 'null resets to the default');
  });
});

test('the audit log records who changed what, before and after, when', async () => {
  const app = await newApp('Audited');
  const mk = await issue(app.id, 'manage');
  expectStatus(await admin.as(mk.secret).patch(`/apps/${app.id}/settings`, { click_window_secs: 1800 }), 200);
  expectStatus(await admin.patch(`/apps/${app.id}`, { name: 'Audited too' }), 200);
  const log = await admin.get(`/apps/${app.id}/audit`);
  expectStatus(log, 200);
  const actions = log.json.entries.map((e) => e.action);
  assert.deepEqual(actions, ['app.update', 'settings.update', 'key.issue', 'app.create']);
  const [rename, settings, issued] = log.json.entries;
  assert.match(rename.actor, /^admin:/);
  assert.equal(settings.actor, `key:${mk.id}`);
  assert.equal(settings.before.click_window_secs, 604800);
  assert.equal(settings.after.click_window_secs, 1800);
  assert.deepEqual([rename.before.name, rename.after.name], ['Audited', 'Audited too']);
  assert.ok(!JSON.stringify(issued).includes(mk.secret), 'no secret in the audit log');
  assert.ok(Date.parse(settings.at) > Date.now() - 60_000);
  const page = await admin.get(`/apps/${app.id}/audit?limit=1&before=${rename.id}`);
  assert.deepEqual(page.json.entries.map((e) => e.action), ['settings.update']);
  expectField(await admin.get(`/apps/${app.id}/audit?limit=0`), 400, 'limit');
});
