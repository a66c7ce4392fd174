// The `attrib` CLI as the e2e tests run it: the debug build, pointed at a running stack's query
// Worker (ATTRIB_ENDPOINT) with a token (ATTRIB_TOKEN, the admin token unless given).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './stack.mjs';

const run = promisify(execFile);
const BIN = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'attrib');

/** Fails the test file at once when the CLI was not built. */
export const assertCliBuilt = () => assert.ok(existsSync(BIN), `build the CLI first: cargo build -p attrib-cli (${BIN})`);

/** Runs `attrib ...args` against `stack`: `{ code, stdout, stderr, json }` (json when stdout is JSON). */
export async function attribCli(stack, args, { token = stack.adminToken, env = {} } = {}) {
  try {
    const { stdout } = await run(BIN, args, { env: { ...process.env, ATTRIB_ENDPOINT: stack.queryUrl, ATTRIB_TOKEN: token, ...env } });
    let json;
    try {
      json = JSON.parse(stdout);
    } catch {
      json = undefined;
    }
    return { code: 0, stdout, json };
  } catch (err) {
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
