// A stack whose storage outlives workerd (for tests that restart it), with a signed receiver
// as its origin and one app. `run` gets {stack, origin, app, persist, send}; `send(batch)`
// posts a Segment batch with the app's write key and expects a 200. Everything is removed
// afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReceiver } from './receiver.mjs';
import { Stack } from './stack.mjs';

export async function withPersistedStack(run) {
  const secret = randomBytes(16).toString('hex');
  const origin = await startReceiver(secret);
  const persist = mkdtempSync(join(tmpdir(), 'attrib-persisted-'));
  const stack = await Stack.start({ originUrl: origin.url, secret, miniflare: { defaultPersistRoot: persist } });
  try {
    const app = await stack.createApp();
    const send = async (batch) => {
      const res = await stack.segment('/v1/batch', { batch }, { key: app.writeKey });
      assert.equal(res.status, 200, res.text);
    };
    await run({ stack, origin, app, persist, send });
  } finally {
    await stack.dispose().catch(() => {});
    await origin.close();
    rmSync(persist, { recursive: true, force: true });
  }
}

/** The records a receiver took, as `kind:messageId` (events) or `kind:conversionId`, sorted. */
export const recordIds = (origin) =>
  origin.records().map((r) => `${r.kind}:${r.event?.messageId ?? r.result?.conversion.conversion_id}`).sort();
