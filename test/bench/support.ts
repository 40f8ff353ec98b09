import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { sql } from 'kysely';
import postgres from 'postgres';
import { migrateToLatest, type Db } from '../../src/db/index.ts';
import { openPostgres } from '../../src/db/node.ts';
import { generateChain, loadSimChain, type SimOptions } from '../../src/sim/index.ts';

const root = join(import.meta.dirname, '..', '..');

/**
 * For benches that need PostgreSQL when DATABASE_URL is unset: runs `npm run bench -- <bench>
 * <args>` again under `.ci/with-postgres` (a throwaway server) and exits with its code.
 */
export async function rerunUnderPostgres(
  bench: string,
  args: readonly string[],
  onChild: (child: ChildProcess | null) => void = () => {},
): Promise<never> {
  console.error('bench: DATABASE_URL is not set; starting a throwaway PostgreSQL with .ci/with-postgres');
  const child = spawn('bash', ['.ci/with-postgres', process.execPath, '--import', 'tsx', 'test/bench/run.ts', bench, ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  onChild(child);
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(1));
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  onChild(null);
  process.exit(code);
}

/**
 * The command-line options of the benches that run on a simulated chain (parseArgs spec), and what
 * they mean: the chain, how many timed runs, whether to reuse or keep its database.
 */
export const benchChainOptions = {
  members: { type: 'string', default: '10000' },
  weeks: { type: 'string', default: '18' },
  stores: { type: 'string', default: '8' },
  seed: { type: 'string', default: '42' },
  end: { type: 'string', default: '2026-10-31' },
  repeat: { type: 'string', default: '3' },
  reuse: { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
} as const;

export function benchChainArgs(values: {
  members?: string; weeks?: string; stores?: string; seed?: string; end?: string; repeat?: string; reuse?: boolean; keep?: boolean;
}): { sim: SimOptions; repeat: number; reuse: boolean; keep: boolean } {
  return {
    sim: {
      seed: Number(values.seed),
      members: Number(values.members),
      stores: Number(values.stores),
      weeks: Number(values.weeks),
      endDate: values.end!,
    },
    repeat: Math.max(1, Number(values.repeat)),
    reuse: values.reuse!,
    keep: values.keep!,
  };
}

export interface BenchChain {
  db: Db;
  /** PostgreSQL's server_version. */
  version: string;
  /** The load, when this run loaded the chain (null: reused). */
  load: { seconds: number; lines: number } | null;
}

/**
 * A simulated chain in its own database `name` on the server of `adminUrl`: loaded through the
 * importers and `vacuum analyze`d (a live chain's tables have statistics; a fresh load has none),
 * or — with `reuse` — the one a previous run left there when it is the same chain. Dropped after
 * `fn` unless `keep` or `reuse`.
 */
export async function withBenchChain<T>(
  adminUrl: string,
  o: { name: string; sim: SimOptions; reuse: boolean; keep: boolean },
  fn: (chain: BenchChain) => Promise<T>,
): Promise<T> {
  const url = new URL(adminUrl);
  url.pathname = `/${o.name}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const version = (await admin<{ version: string }[]>`select current_setting('server_version') as version`)[0]!.version;
    const exists = (await admin`select 1 from pg_database where datname = ${o.name}`).length > 0;
    let database = exists && o.reuse ? await openPostgres(url.toString(), 4) : null;
    if (database && !(await sameChain(database.db, o.sim))) {
      await database.close();
      database = null;
    }
    let load: BenchChain['load'] = null;
    if (!database) {
      await admin.unsafe(`drop database if exists ${o.name} with (force)`);
      await admin.unsafe(`create database ${o.name}`);
      database = await openPostgres(url.toString(), 4);
      await migrateToLatest(database.db);
      console.error(`bench: loading a simulated chain: ${JSON.stringify(o.sim)}`);
      const start = performance.now();
      const summary = await loadSimChain({ db: database.db }, generateChain(o.sim));
      load = { seconds: (performance.now() - start) / 1000, lines: summary.basketLines };
      await sql`vacuum analyze`.execute(database.db);
    } else {
      await migrateToLatest(database.db);
      console.error(`bench: reusing the chain in ${o.name}`);
    }
    try {
      return await fn({ db: database.db, version, load });
    } finally {
      await database.close();
    }
  } finally {
    if (!o.keep && !o.reuse) await admin.unsafe(`drop database if exists ${o.name} with (force)`);
    await admin.end();
  }
}

async function sameChain(db: Db, opts: SimOptions): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from sim_runs where seed = ${opts.seed} and members = ${opts.members}
      and stores = ${opts.stores} and weeks = ${opts.weeks} and end_date = ${opts.endDate}::date`
    .execute(db)
    .catch(() => ({ rows: [{ n: 0 }] }));
  return rows[0]!.n === 1;
}
