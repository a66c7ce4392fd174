// Fraud rules through the ingest Worker in real workerd, one case per rule: the rejection
// reason is stored and visible in the journey view, rejected touches earn no credit, rejected
// conversions are reported (with the reason, in the outbox too) but not attributed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { at, CF, DAY, HOUR, INGEST, Stack } from './lib/stack.mjs';

const AWS = { ...CF.NA, asn: 16509 };
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

let stack;
let origin;
let app; // default rules
let strict; // tighter thresholds, an extra ASN and bot pattern
let lenient; // every rule off
before(async () => {
  const secret = randomBytes(16).toString('hex');
  origin = await startReceiver(secret);
  stack = await Stack.start({ originUrl: origin.url, secret });
  app = await stack.createApp();
  strict = await stack.createApp({
    settings: {
      fraud_rules: JSON.stringify({
        click_spamming: { max_ctit_secs: 86400 },
        ip_click_flood: { max_clicks: 3 },
        device_click_flood: { max_clicks: 2 },
        datacenter: { extra_asns: [64512] },
        bot_user_agents: { extra_patterns: ['AcmeProbe'] },
      }),
    },
  });
  const off = { enabled: false };
  lenient = await stack.createApp({
    settings: {
      fraud_rules: JSON.stringify({
        click_injection: off, click_spamming: off, ip_click_flood: off, device_click_flood: off,
        datacenter: off, bot_user_agents: off, timestamps: off,
      }),
    },
  });
  for (const a of [app, strict, lenient]) {
    await stack.createLink(a.appId, { id: `dsp-${a.appId}`, destination: 'https://shop.example/', source: 'dsp', medium: 'cpc', campaign: 'installs' });
  }
});
after(async () => {
  await stack?.dispose();
  await origin.close();
});

const campaignUrl = (source) => `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=c`;
const view = async (a, id) => {
  const res = await stack.journey(id, a.readToken, { type: 'anonymous' });
  assert.equal(res.status, 200, res.text);
  return res.json;
};
const page = (a, anon, { source = 'google', timestamp = at(-HOUR), context = {}, cf } = {}) =>
  stack.segment('/v1/page', { anonymousId: anon, timestamp, context: { page: { url: campaignUrl(source) }, ...context } }, { key: a.writeKey, cf });
const track = (a, anon, event, { timestamp = at(), properties = {}, context = {}, cf } = {}) =>
  stack.segment('/v1/track', { anonymousId: anon, event, timestamp, properties, context }, { key: a.writeKey, cf });
const click = (a, params, { ip = '203.0.113.10', agent = CHROME, cf = CF.NA } = {}) =>
  stack.fetch(`${INGEST}/c/dsp-${a.appId}?${new URLSearchParams(params)}`, {
    cf,
    headers: { 'user-agent': agent, 'cf-connecting-ip': ip },
  });
const noCredits = (conversion) => conversion.models.every((m) => m.credits.length === 0);
const ok = (res) => assert.ok(res.status === 200 || res.status === 302, `${res.status} ${res.text}`);

test('click injection: an install seconds after its click is rejected, a normal one attributed', async () => {
  ok(await click(app, { anonymous_id: 'inj-1' }));
  ok(await track(app, 'inj-1', 'Application Installed', { timestamp: at(1000) }));
  const injected = await view(app, 'inj-1');
  assert.equal(injected.touches.length, 1);
  assert.equal(injected.touches[0].rejected, undefined, 'the click itself is not the problem');
  const conversion = injected.conversions[0];
  assert.equal(conversion.rejected, 'click_injection');
  assert.match(conversion.rejected_detail, /minimum is 10 s/);
  assert.equal(conversion.basis, 'click');
  assert.ok(noCredits(conversion), JSON.stringify(conversion.models));

  ok(await click(app, { anonymous_id: 'inj-2' }));
  ok(await track(app, 'inj-2', 'Application Installed', { timestamp: at(60_000) }));
  const honest = (await view(app, 'inj-2')).conversions[0];
  assert.equal(honest.rejected, undefined);
  assert.equal(honest.models.find((m) => m.model === 'last_click').credits[0].source, 'dsp');
});

test('click spamming: an install far in the click-to-install tail is rejected', async () => {
  ok(await page(strict, 'spam-1', { source: 'flood', timestamp: at(-2 * DAY) }));
  ok(await track(strict, 'spam-1', 'Application Installed'));
  const spammed = (await view(strict, 'spam-1')).conversions[0];
  assert.equal(spammed.rejected, 'click_spamming');
  assert.ok(noCredits(spammed));
  // The same journey under the default threshold (3 days) is fine.
  ok(await page(app, 'spam-2', { source: 'flood', timestamp: at(-2 * DAY) }));
  ok(await track(app, 'spam-2', 'Application Installed'));
  assert.equal((await view(app, 'spam-2')).conversions[0].rejected, undefined);
});

test('click flooding from one IP: clicks past the limit are rejected and earn nothing', async () => {
  for (let i = 1; i <= 5; i++) ok(await click(strict, { anonymous_id: `ipflood-${i}` }, { ip: '198.51.100.9' }));
  const reasons = [];
  for (let i = 1; i <= 5; i++) reasons.push((await view(strict, `ipflood-${i}`)).touches[0].rejected ?? null);
  assert.deepEqual(reasons, [null, null, null, 'ip_click_flood', 'ip_click_flood']);
  ok(await track(strict, 'ipflood-5', 'Order Completed', { properties: { revenue: 5 } }));
  const conversion = (await view(strict, 'ipflood-5')).conversions[0];
  assert.equal(conversion.basis, 'unattributed', 'the rejected click earns no credit');
  assert.equal(conversion.rejected, undefined);
  // Another IP is counted apart.
  ok(await click(strict, { anonymous_id: 'ipflood-6' }, { ip: '198.51.100.10' }));
  assert.equal((await view(strict, 'ipflood-6')).touches[0].rejected, undefined);
});

test('click flooding from one device: its clicks past the limit are rejected', async () => {
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) ok(await click(strict, { anonymous_id: 'devflood' }, { ip }));
  const touches = (await view(strict, 'devflood')).touches;
  assert.deepEqual(touches.map((t) => t.rejected ?? null), [null, null, 'device_click_flood']);
  ok(await track(strict, 'devflood', 'Order Completed', { timestamp: at(60_000) }));
  const conversion = (await view(strict, 'devflood')).conversions[0];
  const credited = conversion.models.find((m) => m.model === 'linear').credits.map((c) => c.touch_id);
  assert.deepEqual(credited, touches.slice(0, 2).map((t) => t.touch_id), 'only the first two clicks share the credit');
});

test('datacenter networks: direct traffic from a hosting ASN is rejected, relayed traffic is not', async () => {
  ok(await page(app, 'dc-1', { source: 'cloudy', cf: AWS }));
  ok(await track(app, 'dc-1', 'Order Completed', { properties: { revenue: 9 }, cf: AWS }));
  const dc = await view(app, 'dc-1');
  assert.equal(dc.touches[0].rejected, 'datacenter_asn');
  assert.equal(dc.conversions[0].rejected, 'datacenter_asn');
  assert.match(dc.conversions[0].rejected_detail, /AS16509/);
  assert.ok(noCredits(dc.conversions[0]));
  // A server relaying its user's event (the user's IP in context.ip) is judged by nothing here.
  ok(await page(app, 'dc-2', { source: 'relayed', cf: AWS, context: { ip: '198.51.100.77' } }));
  assert.equal((await view(app, 'dc-2')).touches[0].rejected, undefined);
  // Per app: an extra ASN for one app, not for another; a residential ASN for nobody.
  const own = { ...CF.NA, asn: 64512 };
  ok(await page(strict, 'dc-3', { cf: own }));
  ok(await page(app, 'dc-3', { cf: own }));
  assert.equal((await view(strict, 'dc-3')).touches[0].rejected, 'datacenter_asn');
  assert.equal((await view(app, 'dc-3')).touches[0].rejected, undefined);
  ok(await page(app, 'dc-4', { cf: CF.EU }));
  assert.equal((await view(app, 'dc-4')).touches[0].rejected, undefined);
  // A link click from a hosting network.
  ok(await click(app, { anonymous_id: 'dc-5' }, { cf: AWS }));
  assert.equal((await view(app, 'dc-5')).touches[0].rejected, 'datacenter_asn');
});

test('bot user agents: crawlers and HTTP libraries are rejected, browsers are not', async () => {
  ok(await page(app, 'bot-1', { source: 'crawled', context: { userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' } }));
  ok(await track(app, 'bot-1', 'Order Completed', { properties: { revenue: 1 } }));
  const crawled = await view(app, 'bot-1');
  assert.equal(crawled.touches[0].rejected, 'bot_user_agent');
  assert.equal(crawled.conversions[0].basis, 'unattributed', 'the bot touch earns nothing');
  ok(await click(app, { anonymous_id: 'bot-2' }, { agent: 'curl/8.4.0' }));
  assert.equal((await view(app, 'bot-2')).touches[0].rejected, 'bot_user_agent');
  ok(await click(app, { anonymous_id: 'bot-3' }));
  assert.equal((await view(app, 'bot-3')).touches[0].rejected, undefined);
  // An app's own pattern, and an app with the rule off.
  ok(await page(strict, 'bot-4', { context: { userAgent: 'acmeprobe/2.0' } }));
  assert.equal((await view(strict, 'bot-4')).touches[0].rejected, 'bot_user_agent');
  ok(await page(lenient, 'bot-5', { context: { userAgent: 'curl/8.4.0' } }));
  assert.equal((await view(lenient, 'bot-5')).touches[0].rejected, undefined);
});

test('timestamps: events from the future or the far past are rejected', async () => {
  ok(await track(app, 'ts-1', 'Order Completed', { timestamp: at(2 * HOUR), properties: { revenue: 3 } }));
  const future = (await view(app, 'ts-1')).conversions[0];
  assert.equal(future.rejected, 'future_timestamp');
  assert.ok(noCredits(future));
  ok(await page(app, 'ts-2', { timestamp: at(-40 * DAY) }));
  assert.equal((await view(app, 'ts-2')).touches[0].rejected, 'stale_timestamp');
  // Skew correction first: a device clock 2 hours fast, with sentAt, is not the future.
  const fast = new Date(Date.now() + 2 * HOUR);
  const res = await stack.segment('/v1/track', {
    anonymousId: 'ts-3', event: 'Order Completed', timestamp: fast.toISOString(), sentAt: new Date(fast.getTime() + 1000).toISOString(),
  }, { key: app.writeKey });
  ok(res);
  assert.equal((await view(app, 'ts-3')).conversions[0].rejected, undefined);
  // The rule switched off for an app.
  ok(await page(lenient, 'ts-4', { timestamp: at(-40 * DAY) }));
  assert.equal((await view(lenient, 'ts-4')).touches[0].rejected, undefined);
});

test('the outbox carries every rejection with app, time and reason for the origin to count', async () => {
  const expected = new Set(['click_injection', 'click_spamming', 'ip_click_flood', 'device_click_flood', 'datacenter_asn', 'bot_user_agent', 'future_timestamp', 'stale_timestamp']);
  const seen = () => {
    const reasons = new Map();
    for (const r of origin.records()) {
      const reason = r.kind === 'event' ? r.touch?.rejected : r.kind === 'attribution' ? r.result.rejected : undefined;
      const ts = r.kind === 'event' ? r.touch?.ts_ms : r.result?.conversion.ts_ms;
      if (reason) {
        assert.ok(r.app_id && Number.isFinite(ts), JSON.stringify(r));
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
    }
    return reasons;
  };
  const reasons = await eventually(() => {
    const r = seen();
    return [...expected].every((e) => r.has(e)) && r;
  }, { timeoutMs: 45_000 });
  assert.equal(reasons.get('ip_click_flood'), 2);
  assert.equal(reasons.get('device_click_flood'), 1);
  // Rejected conversions arrive as attributions with no credits.
  const rejectedConversion = origin.records().find((r) => r.kind === 'attribution' && r.result.rejected === 'click_injection');
  assert.ok(rejectedConversion.result.models.every((m) => m.credits.length === 0));
});
