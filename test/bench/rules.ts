/**
 * Rules benchmark (issue 6): `cadence rules check` on the shipped rules against the demo chain
 * (seed 1, 5,000 members, 8 stores, 52 weeks) in an embedded PGlite data folder, as a marketer runs
 * it. Target: under 5 s end to end (process start, opening the data folder, validation, catalogue
 * references and the preview of every campaign).
 *
 * Baselines measured in the same run (absolute times drift with the machine's load):
 *   cli      `cadence migrate` on the same folder: process start + opening PGlite + a no-op
 *            migration, the floor under any CLI command
 *   query    the analytics' own 9-cell report, `select category_id, loyalty, volume, count(*)
 *            from member_category_cells group by …`, once per campaign
 * and prints `rules check` against them, and the in-process check (parse + references + preview).
 *
 *   npm run bench -- rules [--repeat 3] [--reuse]
 *
 * --reuse keeps the loaded and analysed demo chain in .bench/rules-demo between runs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { sql } from 'kysely';
import { migrateToLatest } from '../../src/db/index.ts';
import { openPglite } from '../../src/db/node.ts';
import { demoChain } from '../../src/jobs/demo.ts';
import { runAnalyse } from '../../src/jobs/analyse.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { checkRuleFiles, defaultRuleSet } from '../../src/rules/index.ts';
import { readRuleFiles } from '../../src/rules/node.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { NODE_FLAGS } from '../support/node-flags.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const DATA = `${root}.bench/rules-demo`;
const TZ = 'America/New_York';
const END = '2026-11-20';
const AS_OF = '2026-11-21T05:00:00Z';
const TARGET_SECONDS = 5;
const exec = promisify(execFile);

class BenchFailure extends Error {
  override name = 'BenchFailure';
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function cli(...args: string[]): Promise<{ seconds: number; stdout: string }> {
  const t0 = performance.now();
  const { stdout } = await exec('node', [...NODE_FLAGS, 'src/cli.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH!, DATA_DIR: DATA, LOG_LEVEL: 'warn', CHAIN_TIME_ZONE: TZ },
    maxBuffer: 16 << 20,
  });
  return { seconds: (performance.now() - t0) / 1000, stdout };
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { repeat: { type: 'string', default: '3' }, reuse: { type: 'boolean', default: false } },
  });
  const repeat = Number(values.repeat);
  const ready = values.reuse && existsSync(`${DATA}/.analysed`);
  if (!ready) {
    rmSync(DATA, { recursive: true, force: true });
    mkdirSync(DATA, { recursive: true });
    console.log(`loading the demo chain (${demoChain.members} members, ${demoChain.weeks} weeks) into ${DATA} …`);
    const database = await openPglite(DATA);
    await migrateToLatest(database.db);
    const t0 = performance.now();
    await loadSimChain({ db: database.db }, generateChain({ ...demoChain, endDate: END, timeZone: TZ }));
    console.log(`  loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; analysing …`);
    await runAnalyse({ db: database.db, logger: silentLogger }, { asOf: new Date(AS_OF), timeZone: TZ, rules: defaultRuleSet });
    await database.close();
    mkdirSync(`${DATA}/.analysed`);
  }

  // In-process: the check itself, against the analytics' own cell report.
  const database = await openPglite(DATA);
  const files = readRuleFiles(`${root}rules`);
  const deps = { db: database.db, config: { CHAIN_TIME_ZONE: TZ } };
  const inProcess: number[] = [];
  const cellReport: number[] = [];
  let previews = 0;
  for (let i = 0; i < repeat + 1; i++) {
    let t0 = performance.now();
    const result = await checkRuleFiles(deps, files);
    const check = (performance.now() - t0) / 1000;
    if (!result.ok) throw new BenchFailure(`the shipped rules do not validate: ${result.issues.map((x) => x.message).join('; ')}`);
    previews = result.previews.length;
    t0 = performance.now();
    for (let k = 0; k < previews; k++) {
      await sql`select category_id, loyalty, volume, count(*) from member_category_cells group by 1, 2, 3`.execute(database.db);
    }
    const report = (performance.now() - t0) / 1000;
    if (i > 0) {
      // the first round warms PGlite's caches for both
      inProcess.push(check);
      cellReport.push(report);
    }
  }
  const members = await sql<{ n: number }>`select count(*)::int as n from member_scores`.execute(database.db);
  await database.close();

  // End to end, as a marketer runs it.
  const migrate: number[] = [];
  const check: number[] = [];
  let output = '';
  for (let i = 0; i < repeat; i++) {
    migrate.push((await cli('migrate')).seconds);
    const r = await cli('rules', 'check');
    check.push(r.seconds);
    output = r.stdout;
  }
  const widest = Math.max(...output.split('\n').map((l) => l.length));

  const s = (x: number) => `${x.toFixed(2)} s`;
  console.log(`\nrules check: ${files.length} rule files, ${previews} campaigns previewed, ${members.rows[0]!.n} members (median of ${repeat})`);
  console.log(`  in process  check ${s(median(inProcess))}   vs cell report × ${previews} ${s(median(cellReport))}   ratio ${(median(inProcess) / median(cellReport)).toFixed(1)}×`);
  console.log(`  end to end  cadence rules check ${s(median(check))}   vs cadence migrate ${s(median(migrate))}   ratio ${(median(check) / median(migrate)).toFixed(2)}×`);
  console.log(`  widest output line: ${widest} columns (target ≤ 80)`);
  console.log(`  target: rules check < ${TARGET_SECONDS} s → ${median(check) < TARGET_SECONDS ? 'met' : 'NOT met'}`);
  if (widest > 80) throw new BenchFailure(`output is ${widest} columns wide`);
  if (median(check) >= TARGET_SECONDS) {
    throw new BenchFailure(`rules check took ${s(median(check))} (target < ${TARGET_SECONDS} s; cadence migrate alone ${s(median(migrate))})`);
  }
}
