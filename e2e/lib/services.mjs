// Real ClickHouse and tansu (a Kafka-protocol broker) for an e2e file, started and stopped by
// the scripts the origin's own tests use (scripts/services/{clickhouse,tansu}.sh) on ports of
// the file's own (ATTRIB_E2E_PORT_BASE + offsets when set, else free ones), with their data
// in a temporary state dir, so they never meet test-origin.sh's or a dev stack's.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { originPort } from './origin.mjs';
import { ROOT } from './stack.mjs';

const TOOLS = process.env.ATTRIB_TOOLS_DIR ?? join(homedir(), '.cache', 'attribution-tools');
const CLICKHOUSE_SERVER = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'].find(existsSync);
const TANSU = join(TOOLS, 'cargo', 'bin', 'tansu');

/** Why the services cannot run here (binaries missing: scripts/setup.sh installs them), or null. */
export function servicesMissing() {
  if (!CLICKHOUSE_SERVER) return 'clickhouse-server is not installed (scripts/setup.sh installs it)';
  if (!existsSync(TANSU)) return `tansu is not at ${TANSU} (scripts/setup/40-tansu.sh installs it)`;
  return null;
}

export class Services {
  /** Starts ClickHouse and tansu; `offset` picks 3 ports from the port block. */
  static async start(offset) {
    const [http, tcp, kafka] = [await originPort(offset), await originPort(offset + 1), await originPort(offset + 2)];
    const stateDir = mkdtempSync(join(tmpdir(), 'attrib-services-e2e-'));
    const env = {
      ...process.env,
      ATTRIB_STATE_DIR: stateDir,
      ATTRIB_CLICKHOUSE_HTTP_PORT: String(http),
      ATTRIB_CLICKHOUSE_TCP_PORT: String(tcp),
      ATTRIB_TANSU_PORT: String(kafka),
    };
    const services = new Services(env, stateDir, `http://127.0.0.1:${http}`, `127.0.0.1:${kafka}`);
    try {
      services.run('clickhouse', 'start');
      services.run('tansu', 'start');
    } catch (e) {
      services.dispose();
      throw e;
    }
    return services;
  }

  constructor(env, stateDir, clickhouseUrl, brokers) {
    Object.assign(this, { env, stateDir, clickhouseUrl, brokers });
  }

  run(service, action) {
    execFileSync('bash', [join(ROOT, 'scripts', 'services', `${service}.sh`), action], { env: this.env, stdio: ['ignore', 'ignore', 'inherit'] });
  }

  /** The origin's settings for both sinks, with the ClickHouse database `database`. */
  originEnv(database, keySecret) {
    return {
      CLICKHOUSE_URL: this.clickhouseUrl,
      CLICKHOUSE_DATABASE: database,
      CLICKHOUSE_BATCH_WAIT_MS: '200',
      KAFKA_BROKERS: this.brokers,
      KAFKA_COMPRESSION: 'none', // e2e/lib/kafka-reader.mjs reads uncompressed batches
      KAFKA_LINGER_MS: '5',
      KAFKA_KEY_SECRET: keySecret,
    };
  }

  /** The answer of ClickHouse to `query` (HTTP interface), as text; throws on an error. */
  async clickhouse(query) {
    const res = await fetch(this.clickhouseUrl, { method: 'POST', body: query });
    const text = await res.text();
    if (!res.ok) throw new Error(`clickhouse: ${res.status} ${text}`);
    return text;
  }

  /** Every row of every table of `database`, as JSON lines prefixed by the table's name. */
  async dumpClickhouse(database) {
    const tables = (await this.clickhouse(`SELECT name FROM system.tables WHERE database = '${database}' AND engine NOT LIKE '%View' FORMAT TabSeparated`))
      .split('\n').filter(Boolean);
    const rows = [];
    for (const table of tables) {
      const text = await this.clickhouse(`SELECT * FROM ${database}.\`${table}\` FORMAT JSONEachRow`);
      rows.push(...text.split('\n').filter(Boolean).map((line) => `${table}\t${line}`));
    }
    return { tables, rows };
  }

  dispose() {
    for (const service of ['tansu', 'clickhouse']) {
      try { this.run(service, 'stop'); } catch { /* stopped already */ }
    }
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
