// Full journeys through real workerd: tracking-link click, page views, identity merges and
// conversions, read back per model from the query Worker.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { at, CF, DAY, HOUR, INGEST, journeyObjectName, Stack } from './lib/stack.mjs';

let stack;
let app;
before(async () => {
  stack = await Stack.start();
  app = await stack.createApp({ serverWriteKey: true });
  await stack.createLink(app.appId, {
    id: 'spring',
    destination: 'https://shop.example/landing?ref=nl',
    source: 'newsletter',
    medium: 'email',
    campaign: 'spring',
  });
});
after(() => stack?.dispose());

const credits = (conversion, model) =>
  conversion.models.find((m) => m.model === model).credits.map((c) => [c.source, Number(c.credit.toFixed(6))]);

test('click → landing page → sign-up: credit under every model', async () => {
  const anon = 'anon-journey-1';
  const organic = await stack.segment(
    '/v1/page',
    { anonymousId: anon, messageId: 'organic-1', timestamp: at(-2 * DAY), context: { page: { url: 'https://shop.example/', referrer: 'https://www.google.com/search?q=shoes' } } },
    { key: app.writeKey, cf: CF.NA },
  );
  assert.equal(organic.status, 200, organic.text);

  const click = await stack.fetch(`${INGEST}/c/spring?utm_content=hero`, { cf: CF.NA, headers: { 'user-agent': 'Mozilla/5.0' } });
  assert.equal(click.status, 302, click.text);
  const landing = new URL(click.headers.get('location'));
  assert.equal(landing.origin + landing.pathname, 'https://shop.example/landing');
  assert.equal(landing.searchParams.get('ref'), 'nl');
  const clickId = landing.searchParams.get('click_id');
  assert.match(clickId, /^c_[a-z2-7]{26}$/);

  const page = await stack.segment(
    '/v1/page',
    { anonymousId: anon, messageId: 'landing-1', timestamp: at(1000), context: { page: { url: landing.href } } },
    { key: app.writeKey, cf: CF.NA },
  );
  assert.equal(page.status, 200, page.text);

  const signup = await stack.segment(
    '/v1/track',
    { userId: 'user-journey-1', anonymousId: anon, event: 'Signed Up', messageId: 'signup-1', timestamp: at(2000), properties: { revenue: 10 } },
    { key: app.writeKey, cf: CF.NA },
  );
  assert.equal(signup.status, 200, signup.text);

  const journey = await stack.journey('user-journey-1', app.readToken);
  assert.equal(journey.status, 200, journey.text);
  const view = journey.json;
  assert.equal(view.touches.length, 2, JSON.stringify(view.touches));
  assert.deepEqual(view.touches.map((t) => t.channel), ['organic_search', 'email']);
  assert.equal(view.touches[1].touch_id, clickId);
  assert.equal(view.touches[1].content, 'hero', 'utm_content on the click overrides the link');
  assert.equal(view.conversions.length, 1);
  const conversion = view.conversions[0];
  assert.equal(conversion.basis, 'click');
  assert.deepEqual(credits(conversion, 'last_click'), [['newsletter', 1]]);
  assert.deepEqual(credits(conversion, 'first_click'), [['google', 1]]);
  assert.deepEqual(credits(conversion, 'linear'), [['google', 0.5], ['newsletter', 0.5]]);
  assert.deepEqual(credits(conversion, 'position_based'), [['google', 0.5], ['newsletter', 0.5]]);
  assert.deepEqual(credits(conversion, 'last_non_direct'), [['newsletter', 1]]);
  // Time decay, half-life 7 days: the touch ~2 days older weighs ~2^(-2/7) as much.
  const [old, recent] = credits(conversion, 'time_decay').map(([, c]) => c);
  assert.ok(Math.abs(old / recent - 2 ** (-2 / 7)) < 0.001, `${old} / ${recent}`);
  const value = conversion.models.find((m) => m.model === 'linear').credits.reduce((s, c) => s + c.value, 0);
  assert.ok(Math.abs(value - 10) < 1e-9);
  assert.ok(view.merged_from.includes(`a:${app.appId}:${anon}`), JSON.stringify(view.merged_from));
  assert.ok(view.outbox_pending > 0, 'outbox rows written with the attribution');

  // The anonymous journey now points at the user's.
  const viaAnon = await stack.journey(anon, app.readToken, { type: 'anonymous' });
  assert.equal(viaAnon.status, 200, viaAnon.text);
  assert.equal(viaAnon.json.journey, `u:${app.appId}:user-journey-1`);
  assert.equal(viaAnon.json.requested, `a:${app.appId}:${anon}`);
});

test('a journey\'s Durable Object is named by a keyed hash, never by the user id (issue 12, item 7)', async () => {
  const user = 'named-user@example.com';
  const res = await stack.segment('/v1/track', { userId: user, messageId: 'named-1', event: 'Viewed', timestamp: at() }, { key: app.writeKey });
  assert.equal(res.status, 200, res.text);
  const ns = await stack.mf.getDurableObjectNamespace('JOURNEY', 'attrib-ingest');
  const view = async (name) => (await ns.get(ns.idFromName(name)).fetch('https://journey.internal/view')).json();
  const hashed = journeyObjectName(app.appId, `u:${app.appId}:${user}`);
  assert.match(hashed, new RegExp(`^j:${app.appId}:[0-9a-f]{64}$`));
  const found = await view(hashed);
  assert.equal(found.exists, true, 'the journey lives in the object of the hashed name');
  assert.equal(found.journey, `u:${app.appId}:${user}`, 'and keeps its own name');
  assert.equal(found.event_count, 1);
  const raw = await view(`u:${app.appId}:${user}`);
  assert.equal(raw.exists, false, 'no object is named by the user id');
  const api = await stack.journey(user, app.readToken);
  assert.equal(api.status, 200, api.text);
  assert.equal(api.json.event_count, 1, 'the query Worker reaches it by the same name');
});

test('a retried batch leaves exactly one copy', async () => {
  const batch = {
    batch: [
      { type: 'page', userId: 'retry-user', messageId: 'r-1', timestamp: at(-3 * HOUR), context: { page: { url: 'https://shop.example/?utm_source=bing&utm_medium=cpc&utm_campaign=c' } } },
      { type: 'track', userId: 'retry-user', messageId: 'r-2', event: 'Order Completed', timestamp: at(-2 * HOUR), properties: { revenue: 30 } },
      { type: 'identify', userId: 'retry-user', traits: { plan: 'pro' } },
    ],
  };
  const first = await stack.segment('/v1/batch', batch, { key: app.writeKey });
  assert.equal(first.status, 200, first.text);
  assert.deepEqual([first.json.accepted, first.json.duplicates], [3, 0]);
  for (let i = 0; i < 3; i++) {
    const again = await stack.segment('/v1/batch', batch, { key: app.writeKey });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual([again.json.accepted, again.json.duplicates], [3, 3]);
  }
  // Issue 15: a call's message ids are looked up together, and its rows written together at
  // its end; an id twice in one batch is still stored once.
  const twice = { type: 'track', userId: 'retry-user', messageId: 'r-3', event: 'Viewed Pricing' };
  const repeated = await stack.segment('/v1/batch', { batch: [twice, batch.batch[1], twice] }, { key: app.writeKey });
  assert.equal(repeated.status, 200, repeated.text);
  assert.deepEqual([repeated.json.accepted, repeated.json.duplicates], [3, 2]);
  const view = (await stack.journey('retry-user', app.readToken)).json;
  assert.equal(view.event_count, 4);
  assert.equal(view.touches.length, 1);
  assert.equal(view.conversions.length, 1);
});

test('identify merges the anonymous journey so earlier touches earn credit', async () => {
  const anon = 'anon-merge-1';
  await stack.segment('/v1/page', { anonymousId: anon, timestamp: at(-5 * HOUR), context: { page: { url: 'https://shop.example/?gclid=abc123' } } }, { key: app.writeKey });
  const identify = await stack.segment('/v1/identify', { userId: 'merged-user', anonymousId: anon, traits: { email: 'a@b.c' } }, { key: app.writeKey });
  assert.equal(identify.status, 200, identify.text);
  // After identify the SDK sends userId only.
  await stack.segment('/v1/track', { userId: 'merged-user', event: 'Order Completed', properties: { total: 99.5, currency: 'eur' } }, { key: app.writeKey });
  const view = (await stack.journey('merged-user', app.readToken)).json;
  const conversion = view.conversions[0];
  assert.equal(conversion.conversion.currency, 'EUR');
  assert.deepEqual(credits(conversion, 'last_click'), [['google', 1]]);
  assert.equal(conversion.models[0].credits[0].value, 99.5);
  // Anonymous events that arrive after the merge follow the person.
  await stack.segment('/v1/page', { anonymousId: anon, messageId: 'late-anon', context: { page: { url: 'https://shop.example/?utm_source=late&utm_medium=email' } } }, { key: app.writeKey });
  const after = (await stack.journey('merged-user', app.readToken)).json;
  assert.ok(after.touches.some((t) => t.source === 'late'), JSON.stringify(after.touches));
});

test('alias merges a previous id', async () => {
  await stack.segment('/v1/page', { userId: 'old-id', timestamp: at(-HOUR), context: { page: { url: 'https://shop.example/?utm_source=partner&utm_medium=affiliate&utm_campaign=x' } } }, { key: app.writeKey });
  // A user id as previousId merges only from a server key (issue 13, finding 5).
  const alias = await stack.segment('/v1/alias', { previousId: 'old-id', userId: 'new-id' }, { key: app.serverWriteKey });
  assert.equal(alias.status, 200, alias.text);
  await stack.segment('/v1/track', { userId: 'new-id', event: 'Order Completed', properties: { revenue: 5 } }, { key: app.writeKey });
  const conversion = (await stack.journey('new-id', app.readToken)).json.conversions[0];
  assert.deepEqual(credits(conversion, 'linear'), [['partner', 1]]);
});

test('impressions give view-through credit only when there is no click', async () => {
  await stack.createLink(app.appId, { id: 'banner', destination: 'https://shop.example/', source: 'dsp', medium: 'display', campaign: 'awareness' });
  const pixel = await stack.fetch(`${INGEST}/i/banner?anonymous_id=viewer-1&impression_id=imp-1`);
  assert.equal(pixel.status, 200);
  assert.equal(pixel.headers.get('content-type'), 'image/gif');
  await stack.fetch(`${INGEST}/i/banner?anonymous_id=viewer-1&impression_id=imp-1`); // retried pixel
  await stack.segment('/v1/track', { anonymousId: 'viewer-1', event: 'Application Installed', timestamp: at(1000) }, { key: app.writeKey });
  const view = (await stack.journey('viewer-1', app.readToken, { type: 'anonymous' })).json;
  assert.equal(view.touches.length, 1, 'the retried impression counted once');
  assert.equal(view.touches[0].kind, 'view');
  assert.equal(view.conversions[0].basis, 'view');
  assert.deepEqual(credits(view.conversions[0], 'last_click'), [['dsp', 1]]);
});

test('a repeated order id is one conversion, and no touch means organic', async () => {
  const order = { userId: 'orders-user', event: 'Order Completed', properties: { order_id: 'A-1', revenue: 12 } };
  await stack.segment('/v1/track', { ...order, messageId: 'o-1' }, { key: app.writeKey });
  await stack.segment('/v1/track', { ...order, messageId: 'o-2' }, { key: app.writeKey });
  const view = (await stack.journey('orders-user', app.readToken)).json;
  assert.equal(view.event_count, 2);
  assert.equal(view.conversions.length, 1);
  assert.equal(view.conversions[0].basis, 'unattributed');
});
