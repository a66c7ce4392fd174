// A real origin (target/debug/attrib-origin, embedded mode) for e2e tests, and reads of its
// embedded store. The store is read with python3's standard sqlite3 module (libsql writes the
// SQLite file format), read-only, so the running origin is not disturbed.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './receiver.mjs';
import { ROOT } from './stack.mjs';

/** A port from ATTRIB_E2E_PORT_BASE (+offset) when set, else any free one. */
export async function originPort(offset) {
  const base = Number(process.env.ATTRIB_E2E_PORT_BASE);
  if (base) return base + offset;
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class Origin {
  /** Starts the origin on `port` with the edge's `secret`; `env` adds settings. */
  static async start({ port, secret, env = {} }) {
    const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
    const bin = join(target, 'debug', 'attrib-origin');
    assert.ok(existsSync(bin), `the origin is built at ${bin} (cargo build -p attrib-origin)`);
    const dataDir = mkdtempSync(join(tmpdir(), 'attrib-origin-e2e-'));
    const child = spawn(bin, [], {
      env: {
        PATH: process.env.PATH,
        EDGE_ORIGIN_SECRET: secret,
        ATTRIB_ORIGIN_LISTEN: `127.0.0.1:${port}`,
        ATTRIB_ORIGIN_DATA_DIR: dataDir,
        RUST_LOG: 'warn',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${url}/healthz`).catch(() => ({ ok: false }))).ok);
    return new Origin(child, url, dataDir);
  }

  constructor(child, url, dataDir) {
    this.child = child;
    this.url = url;
    this.dataDir = dataDir;
  }

  /** Rows of `sql` over the embedded store, as objects; [] while the file does not exist. */
  query(sql) {
    const db = join(this.dataDir, 'origin.db');
    if (!existsSync(db)) return [];
    const script = [
      'import json, sqlite3, sys',
      "c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)",
      'c.row_factory = sqlite3.Row',
      'print(json.dumps([dict(r) for r in c.execute(sys.argv[2])]))',
    ].join('\n');
    return JSON.parse(execFileSync('python3', ['-c', script, db, sql], { encoding: 'utf8' }));
  }

  /** Stops the origin and waits for it to exit (SIGKILL after 10 s) before removing its files. */
  async dispose() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
