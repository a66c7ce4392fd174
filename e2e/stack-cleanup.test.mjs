// Regression (miniflare-dir leak): a test file that exits as soon as its stack is disposed, as
// `--test-force-exit` makes every file do, left Miniflare's storage directory in the temp
// directory: Miniflare removes it without waiting. Every CI run left about 100 of them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from './lib/stack.mjs';

const run = promisify(execFile);

test('miniflare-dir leak: a disposed stack leaves nothing in the temp directory, even when the process exits at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'attrib-cleanup-test-'));
  // The child's own script file (\`node -e\` with Miniflare never got past its start here).
  const scriptDir = mkdtempSync(join(tmpdir(), 'attrib-cleanup-script-'));
  const scriptPath = join(scriptDir, 'child.mjs');
  try {
    const script = `
      import { Stack } from ${JSON.stringify(join(ROOT, 'e2e/lib/stack.mjs'))};
      const stack = await Stack.start();
      const res = await stack.fetch('http://ingest.test/health');
      console.log(res.status);
      await stack.dispose();
      process.exit(0);
    `;
    writeFileSync(scriptPath, script);
    const { stdout } = await run(process.execPath, [scriptPath], {
      env: { ...process.env, TMPDIR: dir },
      timeout: 120_000,
    });
    assert.match(stdout, /^\d{3}$/m, 'the stack served a request before it was disposed');
    assert.deepEqual(readdirSync(dir), [], 'nothing is left in the temp directory');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(scriptDir, { recursive: true, force: true });
  }
});
