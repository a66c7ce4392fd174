// Deploy dry runs of both Workers (default and production environments): wrangler packages
// what the test suite built (ATTRIB_PREBUILT=1 skips the rebuild in the [build] command),
// checks the configuration and bindings, and writes the bundle; its sizes are printed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ROOT } from './lib/stack.mjs';

const WORKERS = [
  { name: 'attrib-ingest', dir: ROOT },
  { name: 'attrib-query', dir: join(ROOT, 'workers/query') },
];
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

for (const { name, dir } of WORKERS) {
  for (const env of [undefined, 'production']) {
    test(`wrangler deploy --dry-run: ${name}${env ? ` --env ${env}` : ''}`, (t) => {
      const outdir = mkdtempSync(join(tmpdir(), 'attrib-dry-run-'));
      try {
        const args = ['deploy', '--dry-run', '--outdir', outdir, ...(env ? ['--env', env] : [])];
        const run = spawnSync(join(ROOT, 'node_modules/.bin/wrangler'), args, {
          cwd: dir,
          encoding: 'utf8',
          env: { ...process.env, ATTRIB_PREBUILT: '1', WRANGLER_SEND_METRICS: 'false', CI: '1' },
          timeout: 120_000,
        });
        assert.equal(run.status, 0, `wrangler ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
        assert.match(run.stdout, /--dry-run: exiting now/);
        assert.match(run.stdout, /env\.DB \(attrib\)/, 'the D1 binding is packaged');
        const files = readdirSync(outdir).filter((f) => /\.(wasm|js|mjs)$/.test(f));
        const wasm = files.find((f) => f.endsWith('.wasm'));
        assert.ok(wasm, `no wasm in ${files.join(', ')}`);
        const raw = files.reduce((n, f) => n + statSync(join(outdir, f)).size, 0);
        const gzip = files.reduce((n, f) => n + gzipSync(readFileSync(join(outdir, f))).length, 0);
        const upload = run.stdout.match(/Total Upload: ([^\n]+)/)?.[1] ?? '?';
        const line = `${name}${env ? ` (${env})` : ''}: bundle ${kib(raw)}, gzip ${kib(gzip)} (wasm ${kib(statSync(join(outdir, wasm)).size)}); wrangler: ${upload}`;
        t.diagnostic(line);
        console.log(line);
        assert.ok(gzip < 3 * 1024 * 1024, 'inside the 3 MiB compressed limit of the free plan');
        if (name === 'attrib-query') assert.match(run.stdout, /Read \d+ files from the assets directory/, 'the dashboard assets are part of the deploy');
      } finally {
        rmSync(outdir, { recursive: true, force: true });
      }
    });
  }
}
