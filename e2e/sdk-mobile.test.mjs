// The mobile SDKs, replayed: no device runs here, so each test sends the exact request the
// SDK's source builds (path, headers, compression, body shape) over a real socket to the ingest
// Worker in workerd, and checks every event arrives with its device context as sent (the
// advertising id as its keyed hash).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { at, Stack } from './lib/stack.mjs';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { basic, gzip, mobileContext, post } from './lib/sdk-replay.mjs';

let stack;
let receiver;
let app;
let base;
before(async () => {
  const secret = 'mobile-replay-secret';
  receiver = await startReceiver(secret);
  stack = await Stack.start({ originUrl: receiver.url, secret });
  app = await stack.createApp();
  base = stack.url.origin;
});
after(async () => {
  await stack?.dispose();
  await receiver.close();
});

function events(userId, library) {
  const context = mobileContext(library);
  return [
    { type: 'identify', userId, anonymousId: `anon-${userId}`, messageId: randomUUID(), timestamp: at(-2_000), traits: { plan: 'pro' }, context, integrations: {} },
    { type: 'screen', userId, anonymousId: `anon-${userId}`, messageId: randomUUID(), timestamp: at(-1_000), name: 'Home', properties: {}, context, integrations: {} },
    { type: 'track', userId, anonymousId: `anon-${userId}`, messageId: randomUUID(), timestamp: at(), event: 'Application Installed', properties: { version: '3.1.0' }, context, integrations: {} },
  ];
}

/** Every event of `sent` reached the origin once, its device context unchanged. */
async function arrivedOnce(sent) {
  const ids = sent.map((e) => e.messageId);
  await eventually(() => ids.every((id) => receiver.records().some((r) => r.kind === 'event' && r.event.messageId === id)), { timeoutMs: 45_000 });
  for (const event of sent) {
    const copies = receiver.records().filter((r) => r.kind === 'event' && r.event.messageId === event.messageId);
    assert.equal(copies.length, 1, event.messageId);
    for (const key of ['app', 'os', 'library']) {
      assert.deepEqual(copies[0].event.context[key], event.context[key], `context.${key}`);
    }
    // The device as sent, except that an advertising id is kept only as its keyed hash
    // (issue 10: identifiers used for matching are never stored raw; core/src/mobile/device.rs).
    const { advertisingId, ...device } = copies[0].event.context.device;
    const { advertisingId: sentId, ...sentDevice } = event.context.device;
    assert.deepEqual(device, sentDevice, 'context.device');
    if (sentId !== undefined) {
      assert.match(advertisingId, /^hmac:[0-9a-f]{64}$/, 'context.device.advertisingId is a keyed hash');
      assert.ok(!JSON.stringify(copies[0]).includes(sentId), 'the raw advertising id reaches no store');
    }
  }
}

// analytics-kotlin core/src/main/java/com/segment/analytics/kotlin/core/HTTPClient.kt:
// `upload(apiHost)` opens https://{apiHost}/b with Content-Type text/plain, Content-Encoding gzip,
// chunked streaming, no Authorization; the file is {"batch":[...],"sentAt":...,"writeKey":...}
// (utilities/StorageImpl.kt `begin`/`end`).
test('analytics-kotlin: gzip, text/plain, chunked, key in the body, /v1/b', async () => {
  const batch = events('kotlin-user', 'analytics-kotlin');
  const body = `{"batch":[${batch.map((e) => JSON.stringify(e)).join(',')}],"sentAt":"${at()}","writeKey":"${app.writeKey}"}`;
  const res = await post(`${base}/v1/b`, {
    headers: { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip', 'User-Agent': 'analytics-kotlin/1.19.1' },
    body: gzip(body),
    chunked: true,
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.accepted, 3);
  await arrivedOnce(batch);
});

// analytics-swift Sources/Segment/Utilities/Networking/HTTPClient.swift: POST {apiHost}/b,
// `configuredRequest` sets Content-Type application/json; charset=utf-8, Accept-Encoding gzip,
// User-Agent analytics-ios/...; body not compressed, {batch, sentAt, writeKey}
// (Utilities/Storage/Types/DirectoryStore.swift `fileEnding`).
test('analytics-swift: JSON, key in the body, /v1/b', async () => {
  const batch = events('swift-user', 'analytics-ios');
  const body = `{"batch":[${batch.map((e) => JSON.stringify(e)).join(',')}],"sentAt":"${at()}","writeKey":"${app.writeKey}"}`;
  const res = await post(`${base}/v1/b`, {
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Accept-Encoding': 'gzip', 'User-Agent': 'analytics-ios/1.6.0' },
    body,
  });
  assert.equal(res.status, 200, res.text);
  await arrivedOnce(batch);
});

// analytics-react-native packages/core/src/api.ts `uploadEvents`: fetch(url = {apiHost}/b,
// POST, keepalive) with Content-Type application/json; charset=utf-8, X-Retry-Count on retries,
// body JSON.stringify({batch, sentAt, writeKey}).
test('analytics-react-native: JSON with X-Retry-Count, /v1/b', async () => {
  const batch = events('rn-user', 'analytics-react-native');
  const res = await post(`${base}/v1/b`, {
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'X-Retry-Count': '1' },
    body: JSON.stringify({ batch, sentAt: at(), writeKey: app.writeKey }),
  });
  assert.equal(res.status, 200, res.text);
  await arrivedOnce(batch);
});

// Classic analytics-android analytics/src/main/java/com/segment/analytics/ConnectionFactory.java:
// `upload` opens https://{apiHost}/import, Content-Encoding gzip, chunked streaming, and
// `openConnection` sets Content-Type application/json, User-Agent analytics-android/...;
// SegmentIntegration.java BatchPayloadWriter writes {"batch":[...],"sentAt":...,"writeKey":...}.
test('classic analytics-android: gzip, chunked, key in the body, /v1/import', async () => {
  const batch = events('android-user', 'analytics-android');
  const body = `{"batch":[${batch.map((e) => JSON.stringify(e)).join(',')}],"sentAt":"${at()}","writeKey":"${app.writeKey}"}`;
  const res = await post(`${base}/v1/import`, {
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'User-Agent': 'analytics-android/4.11.3' },
    body: gzip(body),
    chunked: true,
  });
  assert.equal(res.status, 200, res.text);
  await arrivedOnce(batch);
});

// Classic analytics-ios Segment/Classes/SEGHTTPClient.m: `upload:forWriteKey:` POSTs
// {apiHost}/batch with the session's Content-Encoding gzip, Content-Type application/json,
// Accept-Encoding gzip and the gzipped JSON of SEGSegmentIntegration.m's payload
// {sentAt, writeKey, batch}.
test('classic analytics-ios: gzip, key in the body, /v1/batch', async () => {
  const batch = events('ios-user', 'analytics-ios');
  const res = await post(`${base}/v1/batch`, {
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Accept-Encoding': 'gzip', 'User-Agent': 'analytics-ios/4.1.8' },
    body: gzip({ sentAt: at(), writeKey: app.writeKey, batch }),
  });
  assert.equal(res.status, 200, res.text);
  await arrivedOnce(batch);
});

// The settings the mobile SDKs load: analytics-kotlin HTTPClient.kt `settings(cdnHost)` GETs
// https://{cdnHost}/projects/{writeKey}/settings (cdnHost defaults to cdn-settings.segment.com/v1),
// analytics-swift HTTPClient.swift `settingsFor` likewise.
test('the mobile settings path answers with the Segment.io entry pointing back at ingest', async () => {
  const res = await stack.fetch(`${base}/projects/${app.writeKey}/settings`);
  assert.equal(res.status, 200, res.text);
  const segment = res.json.integrations['Segment.io'];
  assert.equal(segment.apiKey, app.writeKey);
  assert.equal(segment.apiHost, `${new URL(base).host}/v1`);
  assert.equal(segment.protocol, 'http');
  assert.equal(segment.httpConfig.rateLimitConfig.enabled, true);
  const unknown = await stack.fetch(`${base}/projects/wk_unknown/settings`);
  assert.equal(unknown.status, 401);
  const basicAuth = await post(`${base}/v1/t`, { headers: { authorization: basic('wk_unknown') }, body: '{}' });
  assert.equal(basicAuth.status, 401);
});
