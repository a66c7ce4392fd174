// A real local Turso server for the Turso read-store tests: `tursodb <file> --sync-server
// 127.0.0.1:<port>` from the pinned npm package `turso`, with migrations/ applied over its
// HTTP pipeline API. Starting fails loudly (never skips) when the binary is missing or the
// server does not answer.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unstable_splitSqlQuery } from 'wrangler';
import { ROOT } from './stack.mjs';

const STARTUP_TIMEOUT_MS = 20_000;
// Installed by scripts/setup/45-turso.sh into the tools cache, not from package.json: this
// registry lacks the package's other platform builds, and `npm ci` would insist on them.
const TURSO_PREFIX = join(process.env.ATTRIB_TOOLS_DIR ?? join(homedir(), '.cache/attribution-tools'), 'turso');
const BINARY_PACKAGES = { 'linux-x64': '@tursodatabase/cli-linux-x64-gnu', 'linux-arm64': '@tursodatabase/cli-linux-arm64-gnu', 'darwin-arm64': '@tursodatabase/cli-darwin-arm64', 'darwin-x64': '@tursodatabase/cli-darwin-x64' };

/** The tursodb binary shipped by the `turso` package's platform dependency. */
export function tursodbPath() {
  const pkg = BINARY_PACKAGES[`${process.platform}-${process.arch}`];
  if (!pkg) throw new Error(`no tursodb build for ${process.platform}-${process.arch}`);
  const require = createRequire(join(TURSO_PREFIX, 'package.json'));
  try {
    return join(dirname(require.resolve(`${pkg}/package.json`)), 'tursodb');
  } catch {
    throw new Error(`${pkg} is not installed in ${TURSO_PREFIX}: run bash scripts/setup/45-turso.sh`);
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const arg = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? { type: 'integer', value: String(v) } : { type: 'float', value: v }) : v === null ? { type: 'null' } : { type: 'text', value: String(v) });

export class Turso {
  /** `port`: a fixed loopback port (e.g. from ATTRIB_E2E_PORT_BASE); default a free one. */
  static async start({ port: fixedPort } = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'attrib-turso-'));
    const port = fixedPort ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(tursodbPath(), [join(dir, 'stats.db'), '--sync-server', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const turso = new Turso(child, url, dir);
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 100))]);
      if (code !== undefined) throw new Error(`tursodb exited with ${code} before serving: ${output}`);
      try {
        await turso.execute('SELECT 1');
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`tursodb did not answer on ${url} within ${STARTUP_TIMEOUT_MS} ms (${err.message}): ${output}`);
        }
      }
    }
    await turso.migrate();
    return turso;
  }

  constructor(child, url, dir) {
    this.child = child;
    this.url = url;
    this.dir = dir;
  }

  /** Runs one statement over the pipeline API; rows as objects. */
  async execute(sql, args = []) {
    const response = await fetch(`${this.url}/v2/pipeline`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql, args: args.map(arg) } }] }),
    });
    if (!response.ok) throw new Error(`turso HTTP ${response.status}: ${await response.text()}`);
    const [result] = (await response.json()).results;
    if (result.type !== 'ok') throw new Error(`turso: ${result.error.message}`);
    const { cols, rows } = result.response.result;
    const value = (c) => (c.type === 'integer' ? Number(c.value) : c.type === 'null' ? null : c.value);
    return rows.map((row) => Object.fromEntries(row.map((c, i) => [cols[i].name, value(c)])));
  }

  async migrate() {
    const dir = join(ROOT, 'migrations');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      for (const statement of unstable_splitSqlQuery(readFileSync(join(dir, file), 'utf8'))) {
        await this.execute(statement);
      }
    }
  }

  /** The query Worker's vars for reading and writing rollups here. */
  vars() {
    return { READ_STORE: 'turso', TURSO_URL: this.url };
  }

  async stop() {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
