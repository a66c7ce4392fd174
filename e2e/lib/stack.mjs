// The edge stack under test: the built ingest and query Workers in one Miniflare (real
// workerd), sharing a D1 database migrated from migrations/, with test apps and keys.
// Requests go through dispatchFetch so tests can inject request.cf.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const INGEST = 'http://ingest.test';
export const QUERY = 'http://query.test';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
export const newKey = (prefix) => `${prefix}_${randomBytes(24).toString('hex')}`;

/**
 * A Miniflare whose storage directory is known, so `removeMiniflare` can wait for its removal:
 * Miniflare's own dispose removes it without waiting, and a test file ended by
 * `--test-force-exit` left it behind (about 100 directories, 200 MB, per CI run).
 */
export function newMiniflare(options) {
  const dir = mkdtempSync(join(tmpdir(), 'attrib-stack-'));
  const before = process.env.TMPDIR;
  // Miniflare places its directory in os.tmpdir(), read once, in its constructor.
  process.env.TMPDIR = dir;
  try {
    const mf = new Miniflare(options);
    miniflareDirs.set(mf, dir);
    return mf;
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}
const miniflareDirs = new WeakMap();

/** Disposes `mf` and waits until its storage directory is gone. */
export async function removeMiniflare(mf) {
  try {
    await mf.dispose();
  } finally {
    const dir = miniflareDirs.get(mf);
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

function workerOptions(configPath, name, host, bindings) {
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(configPath);
  return {
    ...workerOptions,
    name,
    modules: true,
    scriptPath: main,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    routes: [`${host}/*`],
    bindings: { ...workerOptions.bindings, ...bindings },
  };
}

/** `limits` (`{RATE_LIMIT_IP: 60}`) replaces wrangler.toml's request counts per period. */
function withRateLimits(options, limits) {
  const ratelimits = { ...options.ratelimits };
  for (const [name, limit] of Object.entries(limits)) {
    if (!ratelimits[name]) throw new Error(`no rate limit binding ${name} in wrangler.toml`);
    ratelimits[name] = { ...ratelimits[name], simple: { ...ratelimits[name].simple, limit } };
  }
  return { ...options, ratelimits };
}

/** Cloudflare's request.cf for a request from a place. */
export const CF = {
  NA: { continent: 'NA', country: 'US', isEUCountry: undefined, longitude: '-122.42', latitude: '37.77', colo: 'SJC', asn: 13335 },
  EU: { continent: 'EU', country: 'FR', isEUCountry: '1', longitude: '2.35', latitude: '48.86', colo: 'CDG', asn: 3215 },
  APAC: { continent: 'AS', country: 'JP', isEUCountry: undefined, longitude: '139.69', latitude: '35.69', colo: 'NRT', asn: 2516 },
};

// ATTRIB_E2E_PORT_BASE gives a run its own block of loopback ports: each Stack of the process
// takes the next one (0, the default, lets the kernel choose).
let nextPort = Number(process.env.ATTRIB_E2E_PORT_BASE ?? 0);

export class Stack {
  /**
   * `originUrls` (`{us, eu, apac}`) replaces `originUrl` for several regional origins.
   * `vars` go to both Workers, `queryVars` to the query Worker only (e.g. READ_STORE=turso).
   * `queryHttp: true` also serves the query Worker (assets included) on a loopback port of its
   * own, at `stack.queryUrl`, for browsers. `miniflare` adds Miniflare options (e.g. inspectorPort).
   * `rateLimits` lowers the ingest Worker's rate-limit bindings (`{RATE_LIMIT_IP: 60}`).
   */
  static async start(options = {}) {
    // One retry: Miniflare's synchronous binding proxy can fail an assertion under load
    // (SynchronousFetcher: `message?.id === id`) before any test ran; a real bug fails twice.
    try {
      return await Stack.#startOnce(options);
    } catch (error) {
      console.error(`# stack start failed, retrying once: ${error?.stack ?? error}`);
      return await Stack.#startOnce(options);
    }
  }

  static async #startOnce({ originUrl = 'http://127.0.0.1:9', originUrls, secret = randomBytes(16).toString('hex'), vars = {}, queryVars = {}, queryHttp = false, miniflare = {}, rateLimits = {} } = {}) {
    // Loopback receivers stand in for ad networks (core/src/postback/target.rs); the admin
    // token's hash is the deployment secret the management API checks.
    const adminToken = newKey('at');
    const shared = { EDGE_ORIGIN_SECRET: secret, DO_JURISDICTIONS: 'record-only', ALLOW_LOOPBACK_TARGETS: '1', ADMIN_TOKEN_HASHES: sha256(adminToken), ...vars };
    const options = {
      host: '127.0.0.1',
      port: nextPort ? nextPort++ : 0,
      ...miniflare,
      workers: [
        withRateLimits(workerOptions(join(ROOT, 'wrangler.toml'), 'attrib-ingest', 'ingest.test', {
          ...shared,
          ORIGIN_URLS: JSON.stringify(originUrls ?? { us: originUrl }),
        }), rateLimits),
        {
          ...workerOptions(join(ROOT, 'workers/query/wrangler.toml'), 'attrib-query', 'query.test', { ...shared, ...queryVars }),
          ...(queryHttp ? { unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] } : {}),
        },
      ],
    };
    const mf = newMiniflare(options);
    // A Miniflare left running keeps the test file's process (and the whole run) alive.
    try {
      const url = await mf.ready;
      const stack = new Stack(mf, url, secret);
      stack.options = options;
      stack.adminToken = adminToken;
      if (queryHttp) stack.queryUrl = (await mf.unsafeGetDirectURL('attrib-query')).toString().replace(/\/$/, '');
      await stack.migrate();
      return stack;
    } catch (error) {
      await removeMiniflare(mf).catch(() => {});
      throw error;
    }
  }

  constructor(mf, url, secret) {
    this.mf = mf;
    this.url = url;
    this.secret = secret;
  }

  async d1() {
    return this.mf.getD1Database('DB', 'attrib-ingest');
  }

  async migrate() {
    const db = await this.d1();
    const dir = join(ROOT, 'migrations');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      for (const statement of unstable_splitSqlQuery(readFileSync(join(dir, file), 'utf8'))) {
        await db.prepare(statement).run();
      }
    }
  }

  /**
   * A new app with its own write key (class `client`), read token and manage key;
   * `serverWriteKey: true` adds a `server` write key (finding 5: Segment's alias semantics).
   */
  async createApp({ id, residency = 'global', settings = {}, serverWriteKey = false } = {}) {
    const appId = id ?? `app${randomBytes(4).toString('hex')}`;
    const writeKey = newKey('wk');
    const readToken = newKey('rt');
    const manageKey = newKey('mk');
    const db = await this.d1();
    const columns = { id: appId, name: appId, residency, ...settings };
    const names = Object.keys(columns);
    await db
      .prepare(`INSERT INTO apps (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`)
      .bind(...names.map((n) => columns[n]))
      .run();
    await db.prepare("INSERT INTO api_keys (key_hash, app_id, kind) VALUES (?, ?, 'write')").bind(sha256(writeKey), appId).run();
    await db.prepare("INSERT INTO api_keys (key_hash, app_id, kind) VALUES (?, ?, 'read')").bind(sha256(readToken), appId).run();
    await db.prepare("INSERT INTO api_keys (key_hash, app_id, kind) VALUES (?, ?, 'manage')").bind(sha256(manageKey), appId).run();
    const keys = { appId, writeKey, readToken, manageKey };
    if (serverWriteKey) {
      keys.serverWriteKey = newKey('wk');
      await db.prepare("INSERT INTO api_keys (key_hash, app_id, kind, class) VALUES (?, ?, 'write', 'server')").bind(sha256(keys.serverWriteKey), appId).run();
    }
    return keys;
  }

  async createLink(appId, link) {
    const db = await this.d1();
    const row = { source: null, medium: null, campaign: null, content: null, term: null, ...link };
    await db
      .prepare('INSERT INTO links (id, app_id, destination_url, source, medium, campaign, content, term) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .bind(row.id, appId, row.destination, row.source, row.medium, row.campaign, row.content, row.term)
      .run();
    return row.id;
  }

  /** `/c/{linkId}?user_id=...&user_sig=...`, signed through the management API (finding 5). */
  async userLinkPath(appId, linkId, userId) {
    const res = await this.fetch(`${QUERY}/admin/v1/apps/${appId}/links/${linkId}/user-url`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId }),
    });
    if (res.status !== 200) throw new Error(`user-url: ${res.status} ${res.text}`);
    return `/c/${linkId}?user_id=${encodeURIComponent(userId)}&user_sig=${res.json.user_sig}`;
  }

  async fetch(url, init = {}) {
    const response = await this.mf.dispatchFetch(url, { redirect: 'manual', ...init });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  /** POST a Segment call; `key` goes in HTTP Basic like Segment SDKs send it. */
  segment(path, body, { key, cf, headers = {} } = {}) {
    const auth = key ? { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` } : {};
    return this.fetch(`${INGEST}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      cf,
    });
  }

  journey(id, token, { type } = {}) {
    const query = type ? `?type=${type}` : '';
    return this.fetch(`${QUERY}/v1/journeys/${encodeURIComponent(id)}${query}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  }

  /**
   * Restarts workerd with the same options: every object loses what it held in memory and
   * keeps its storage, as after an eviction. Needs persisted storage (`miniflare:
   * {defaultPersistRoot}`) to keep anything.
   */
  async restart() {
    await this.mf.setOptions(this.options);
    this.url = await this.mf.ready;
  }

  /** Stops workerd; `resume()` starts it again over the same (persisted) storage. */
  async stop() {
    await removeMiniflare(this.mf);
  }

  async resume() {
    this.mf = newMiniflare(this.options);
    this.url = await this.mf.ready;
  }

  async dispose() {
    await removeMiniflare(this.mf);
  }
}

/** ISO time `ms` milliseconds from now. */
/**
 * The name the Journey Durable Object of `journey` (`u:{app}:{user id}`, `a:...`, `c:...`) is
 * reached by under wrangler.toml's local JOURNEY_NAME_SECRET, as
 * `JourneyKey::durable_object_name` (core/src/identity.rs) gives it; the journey itself
 * without the secret.
 */
export function journeyObjectName(appId, journey) {
  const secret = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8').match(/^JOURNEY_NAME_SECRET = "([^"]*)"/m)?.[1];
  if (!secret) return journey;
  const appKey = createHmac('sha256', secret).update(appId).digest();
  return `j:${appId}:${createHmac('sha256', appKey).update(`journey:${journey}`).digest('hex')}`;
}

export const at = (ms = 0) => new Date(Date.now() + ms).toISOString();
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
