// The Journey object's outbox reaches the origin: signed, retried through failures until
// acknowledged, and then emptied.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { recordIds, withPersistedStack } from './lib/persisted.mjs';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { at, HOUR, Stack } from './lib/stack.mjs';

let stack;
let receiver;
let app;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  receiver = await startReceiver(secret, { refuseFirst: 2 });
  stack = await Stack.start({ originUrl: receiver.url, secret });
  app = await stack.createApp();
});
after(async () => {
  await stack?.dispose();
  await receiver.close();
});

test('events and attributions are flushed, signed, through refusals, exactly once', async () => {
  const res = await stack.segment('/v1/batch', {
    batch: [
      { type: 'page', userId: 'flush-user', messageId: 'f-1', timestamp: at(-HOUR), context: { page: { url: 'https://s.example/?utm_source=x&utm_medium=cpc' } } },
      { type: 'track', userId: 'flush-user', messageId: 'f-2', event: 'Order Completed', properties: { revenue: 3 } },
    ],
  }, { key: app.writeKey });
  assert.equal(res.status, 200, res.text);

  await eventually(async () => (await stack.journey('flush-user', app.readToken)).json.outbox_pending === 0, { timeoutMs: 45_000 });
  assert.ok(receiver.state.attempts >= 3, 'the first two attempts were refused and retried');
  assert.equal(receiver.state.badSignatures, 0);
  const records = receiver.records();
  const ids = records.map((r) => `${r.kind}:${r.event?.messageId ?? r.result?.conversion.conversion_id}`);
  assert.deepEqual(ids.sort(), ['attribution:f-2', 'event:f-1', 'event:f-2']);
  assert.equal(receiver.state.batches[0].journey, `u:${app.appId}:flush-user`);
  assert.equal(receiver.state.batches[0].region, 'us');
  const attribution = records.find((r) => r.kind === 'attribution');
  assert.equal(attribution.app_id, app.appId);
  assert.equal(attribution.result.models.length, 6);
  const event = records.find((r) => r.kind === 'event' && r.event.messageId === 'f-1');
  assert.equal(event.touch.source, 'x');
});

// Regression: the alarm, after sending a batch, set itself to the journey's next null-path
// due time (days away), overwriting the alarm that an event arriving during the send had set;
// that event's records then waited for days. Also (issue 15): records of a call are appended
// to the newest outbox row, but never to a row being sent (its deletion would lose them).
test('an event stored while the alarm is sending the outbox is flushed soon, not at the null-path due time', async () => {
  const secret = randomBytes(16).toString('hex');
  const slow = await startReceiver(secret, { holdFirstMs: 3_000 });
  const local = await Stack.start({ originUrl: slow.url, secret });
  try {
    const own = await local.createApp();
    const send = (body) => local.segment('/v1/track', { userId: 'race-user', ...body }, { key: own.writeKey });
    const first = await local.segment('/v1/page', {
      userId: 'race-user', messageId: 'race-1', timestamp: at(-HOUR),
      context: { page: { url: 'https://s.example/?utm_source=news&utm_medium=cpc' } },
    }, { key: own.writeKey });
    assert.equal(first.status, 200, first.text);
    await eventually(() => slow.state.holding, { timeoutMs: 10_000, intervalMs: 20 });
    const second = await send({ messageId: 'race-2', event: 'Viewed Pricing' });
    assert.equal(second.status, 200, second.text);
    assert.ok(slow.state.holding, 'the second event arrived while the first batch was being sent');
    await eventually(() => slow.records().some((r) => r.event?.messageId === 'race-2'), { timeoutMs: 30_000 });
    const pending = (await local.journey('race-user', own.readToken)).json.outbox_pending;
    assert.equal(pending, 0);
    assert.deepEqual(slow.records().map((r) => r.event.messageId).sort(), ['race-1', 'race-2'], 'each record exactly once');
  } finally {
    await local.dispose();
    await slow.close();
  }
});

// Issue 15: an event's records live in its own row until the flush moves the journey's mark
// over it, and the object keeps the list of unsent events in memory. After a restart (an
// eviction) that list is gone: the next life must find the unsent events in storage and send
// them, and must not send again what went before the restart.
test('events not sent when the object restarts are sent by its next life, and sent ones are not sent again', () =>
  withPersistedStack(async ({ stack: local, origin, app: own, send }) => {
    origin.state.refusing = true;
    await send([
      { type: 'page', userId: 'restart-user', messageId: 'r-1', timestamp: at(-HOUR), context: { page: { url: 'https://s.example/?utm_source=x&utm_medium=cpc' } } },
      { type: 'track', userId: 'restart-user', messageId: 'r-2', event: 'Viewed Pricing' },
      { type: 'track', userId: 'restart-user', messageId: 'r-3', event: 'Order Completed', properties: { revenue: 3 } },
    ]);
    await eventually(() => origin.state.attempts >= 1, { timeoutMs: 15_000, intervalMs: 50 });
    await local.restart();
    origin.state.refusing = false;
    const ids = () => recordIds(origin);
    await eventually(() => ids().length >= 4, { timeoutMs: 60_000 });
    assert.deepEqual(ids(), ['attribution:r-3', 'event:r-1', 'event:r-2', 'event:r-3']);
    assert.equal((await local.journey('restart-user', own.readToken)).json.outbox_pending, 0);

    await local.restart();
    await send([{ type: 'track', userId: 'restart-user', messageId: 'r-4', event: 'Viewed Pricing' }]);
    await eventually(() => ids().includes('event:r-4'), { timeoutMs: 30_000 });
    // Give a wrongly re-sent batch time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.deepEqual(ids(), ['attribution:r-3', 'event:r-1', 'event:r-2', 'event:r-3', 'event:r-4'], 'each record once');
  }));
