import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { migrateToLatest } from '../../src/db/index.ts';
import { openPglite } from '../../src/db/node.ts';
import { csvChunks, generateChain, loadSimChain, type SimOptions } from '../../src/sim/index.ts';
import { NODE_FLAGS } from '../support/node-flags.ts';

const root = join(import.meta.dirname, '..', '..');
const benchDir = join(root, '.bench');

/** The demo chain must load into the embedded database within this (issue #4). */
const TARGET_DEMO_LOAD_SECONDS = 60;

/** Required rate of the baskets CSV stream on one core. */
const TARGET_LINES_PER_SECOND = 200_000;

class BenchFailure extends Error {
  override name = 'BenchFailure';
}

/** The demo-size chain unless flags say otherwise. */
function options(args: string[]): SimOptions {
  const { values } = parseArgs({
    args,
    options: {
      seed: { type: 'string', default: '1' },
      members: { type: 'string', default: '5000' },
      stores: { type: 'string', default: '8' },
      weeks: { type: 'string', default: '52' },
      end: { type: 'string', default: '2026-02-28' },
      'skip-load': { type: 'boolean', default: false },
    },
    strict: false,
  });
  return {
    seed: Number(values.seed as string),
    members: Number(values.members as string),
    stores: Number(values.stores as string),
    weeks: Number(values.weeks as string),
    endDate: values.end as string,
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * Equally many basket-like CSV lines with no simulation behind them, yielded from a generator like
 * the real stream: the floor that string building and iteration alone cost.
 */
function* baselineLines(count: number): Generator<string> {
  for (let i = 0; i < count; i++) {
    const basket = `6${pad(i % 1e11, 11)},${100_000 + (i >> 3)},2026-02-28T10:15:${pad(i % 60, 2)}`;
    const till = `-05:00,${(i % 8) + 1},T0${(i % 8) + 1}`;
    yield `${basket}${till},0${4e12 + (i % 997)},${(i % 3) + 1},${199 + (i % 500)},0`;
  }
}

interface Run {
  lines: number;
  chars: number;
  seconds: number;
}

/** Consumes lines without keeping them; the character count keeps the work observable. */
function consume(lines: Iterable<string>): Run {
  const start = performance.now();
  let count = 0;
  let chars = 0;
  for (const line of lines) {
    count++;
    chars += line.length;
  }
  return { lines: count, chars, seconds: (performance.now() - start) / 1000 };
}

function describeRun(label: string, r: Run): string {
  const perLine = (r.chars / r.lines).toFixed(1);
  const rate = Math.round(r.lines / r.seconds);
  return `  ${label}: ${r.lines} lines (${perLine} chars) in ${r.seconds.toFixed(2)} s = ${rate} lines/s`;
}

/**
 * Generates the demo chain's baskets CSV in memory (counted, not stored) and reports its rate
 * against a no-simulation baseline of as many lines; fails below 200,000 lines/s.
 *   npm run bench -- sim [--seed 1] [--members 5000] [--stores 8] [--weeks 52] [--end 2026-02-28]
 */
export async function run(args: string[]): Promise<void> {
  const opts = options(args);
  const chain = generateChain(opts);
  const sim = consume(chain.basketsCsv());
  const base = consume(baselineLines(sim.lines));
  const { seed, members, stores, weeks } = opts;
  console.log(
    `sim baskets CSV: seed ${seed}, ${members} members, ${stores} stores, ${weeks} weeks`,
  );
  console.log(describeRun('simulated', sim));
  console.log(describeRun('baseline ', base));
  console.log(`  simulation costs ${(sim.seconds / base.seconds).toFixed(2)}× the baseline time`);
  const rate = sim.lines / sim.seconds;
  if (sim.lines > 0 && rate < TARGET_LINES_PER_SECOND) {
    throw new BenchFailure(`${Math.round(rate)} lines/s is below ${TARGET_LINES_PER_SECOND}`);
  }
  mkdirSync(benchDir, { recursive: true });
  const out = outToFile(opts);
  console.log(
    `  cadence sim generate --out: ${out.lines} lines in ${out.seconds.toFixed(2)} s = ` +
      `${Math.round(out.lines / out.seconds)} lines/s (whole command, Node start included)`,
  );
  if (!args.includes('--skip-load')) await demoLoad(opts);
}

/** Times the CLI writing the basket CSV to a file (the path used for 1M-member chains). */
function outToFile(opts: SimOptions): { lines: number; seconds: number } {
  const file = join(benchDir, 'sim-out.csv');
  const start = performance.now();
  execFileSync(
    'node',
    [...NODE_FLAGS, 'src/cli.ts', 'sim', 'generate', '--out', file, '--members', String(opts.members),
      '--stores', String(opts.stores), '--weeks', String(opts.weeks), '--seed', String(opts.seed), '--end', opts.endDate],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const seconds = (performance.now() - start) / 1000;
  const lines = Number(execFileSync('wc', ['-l', file]).toString().trim().split(' ')[0]) - 1;
  return { lines, seconds };
}

/**
 * Loads the demo chain into a fresh file-backed PGlite through the importers, and — as the
 * baseline, in the same run — COPYs the same basket lines into a plain table of that database.
 */
async function demoLoad(opts: SimOptions): Promise<void> {
  const dir = join(benchDir, 'pglite-demo');
  rmSync(dir, { recursive: true, force: true });
  const database = await openPglite(dir);
  try {
    await migrateToLatest(database.db);
    const start = performance.now();
    const summary = await loadSimChain({ db: database.db }, generateChain(opts));
    const seconds = (performance.now() - start) / 1000;

    await sql`create table bench_copy (card text, txn text, ts timestamptz, store_id int,
      terminal_id text, gtin text, qty numeric, unit_price_cents int, line_discount_cents int)`.execute(database.db);
    const copyStart = performance.now();
    for (const chunk of batchedChunks(generateChain(opts).basketsCsv({ header: false }))) {
      await database.copyIn!('bench_copy', ['card', 'txn', 'ts', 'store_id', 'terminal_id', 'gtin', 'qty', 'unit_price_cents', 'line_discount_cents'], chunk);
    }
    const copySeconds = (performance.now() - copyStart) / 1000;
    console.log(`demo chain into file-backed PGlite (${dir}):`);
    console.log(`  cadence load (stores, products, members, ${summary.basketLines} basket lines, truth): ${seconds.toFixed(1)} s = ${Math.round(summary.basketLines / seconds)} lines/s`);
    console.log(`  baseline COPY of the same lines into a plain table: ${copySeconds.toFixed(1)} s = ${Math.round(summary.basketLines / copySeconds)} lines/s`);
    console.log(`  ratio load / COPY time: ${(seconds / copySeconds).toFixed(2)}×; target ≤ ${TARGET_DEMO_LOAD_SECONDS} s: ${seconds <= TARGET_DEMO_LOAD_SECONDS ? 'PASS' : 'MISS'}`);
  } finally {
    await database.close();
  }
}

/** Basket CSV in chunks of about 8 MB for COPY. */
function* batchedChunks(lines: Iterable<string>): Generator<string> {
  yield* csvChunks(lines, 8 << 20);
}
