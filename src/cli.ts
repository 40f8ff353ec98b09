import { createWriteStream, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, type WriteStream } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CreateApiKey, createApiKey, listApiKeys, revokeApiKey, Role } from './auth/index.ts';
import { isTimeZone, parseConfig, type Config } from './config.ts';
import { migrateToLatest, type Database } from './db/index.ts';
import { DataDirBusyError, lockDataDir } from './db/lock.ts';
import { openDatabase } from './db/node.ts';
import type { Deps } from './deps.ts';
import { CsvRecordError } from './ingest/csv.ts';
import { errorsFileWriter } from './ingest/errors-file.ts';
import { importBaskets, importMembers, importProducts, type ImportSummary } from './ingest/import-csv.ts';
import { readTextChunks } from './ingest/node.ts';
import { AppError } from './lib/errors.ts';
import { systemClock } from './lib/clock.ts';
import { cryptoIds } from './lib/ids.ts';
import { jsonLogger } from './lib/logger.ts';
import { progressBar } from './lib/progress.ts';
import { localDate, localToInstant } from './lib/time.ts';
import { inRange, MAX_INT4 } from './lib/validators.ts';
import type { AnalyseMode } from './jobs/sim-run.ts';
import type { RuleFileText } from './rules/index.ts';
import type { ParsedRules, RuleSource } from './rules/rule-set.ts';
import type { SimChain } from './sim/index.ts';

// Modules that only some commands need (the rules and YAML, PDF and barcodes, the app for `sim
// run`, the simulator, analytics) are imported by those commands: `import` and `migrate` start in
// about half the time without them, and import's throughput is measured with its start.

const usage = `cadence — command line of the Cadence loyalty engine

  migrate                                   bring the database schema up to date
  import baskets|products|members FILE      import a CSV file (see README for the formats)
        [--time-zone ZONE] [--batch N]      zone for timestamps without offset (default CHAIN_TIME_ZONE)
  sim generate [--members N] [--stores N] [--weeks N] [--seed N] [--end YYYY-MM-DD] [--out FILE]
                                            simulate a chain and load it (or write its basket CSV to FILE)
  sim run [--weeks 8 | --days N] [--analyse period|nightly]
                                            drive the loaded chain forward through the API: list periods,
                                            members shopping their offers at the lanes, analytics before each period (or nightly)
  lists run [--period DATE] [--regenerate]  assign offers and build the lists of a period (default: the
                                            period holding today); a rerun adds nothing
  lists print --store N --period DATE --out FILE.pdf [--paper letter|a4]
                                            one PDF of all the store's lists of the period
  analyse [--at DATE]                       run the nightly analytics now (as of DATE: YYYY-MM-DD or an
                                            instant with offset; default now)
  predict --at DATE [--top 20] --out FILE.csv
                                            each member's top products as of DATE (history before it only)
  keys create --role admin|marketer|vendor|pos [--store N] [--manufacturer ID] [--name TEXT]
  keys list
  keys revoke ID
  rules check [PATH]                        validate the rules folder (default RULES_DIR) or one rule
                                            file in it; preview every (or that) campaign's reach and
                                            cost from the last analytics
  rules bundle [DIR] --out FILE.js          validate the rules folder and write it as a module for the
                                            edge (wrangler.toml runs this before every build)

The database is DATABASE_URL when set, else the embedded one in DATA_DIR (default ./data).
Exit codes: 0 done, 1 failed (rules check: a rule file is invalid), 2 done but some rows were
rejected (see FILE.errors.csv) — for rules check: the files are valid but the database was busy, so
references and the preview were not checked.`;

class UsageError extends Error {}

interface Session {
  config: Config;
  database: Database;
  deps: Deps;
}

/** Commands that never read the rules do not load them. */
const noRules: RuleSource = {
  current() {
    throw new Error('this command does not load the rules');
  },
};

async function openSession(
  config: Config,
  opts: { rules?: RuleSource } = {},
): Promise<Session & { migrated: string[]; close(): Promise<void> }> {
  const loaded = opts.rules ? null : await loadRules(config);
  const rules = opts.rules ?? loaded!.source;
  const release = config.DATABASE_URL ? () => {} : lockDataDir(config.DATA_DIR, { owner: 'cli' });
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const migrated = await migrateToLatest(database.db);
  if (loaded) {
    // As the server at start: rules naming what the catalogue lacks are refused, not run without.
    const { checkReferences, RuleFileError } = await import('./rules/index.ts');
    const { issues } = await checkReferences(database.db, loaded.parsed);
    if (issues.length > 0) {
      await database.close();
      release();
      throw new RuleFileError(issues[0]!.file, issues);
    }
  }
  const deps: Deps = {
    db: database.db,
    copyIn: database.copyIn,
    copyTx: database.copyTx,
    clock: systemClock,
    ids: cryptoIds,
    logger: jsonLogger(config.LOG_LEVEL, (line) => process.stderr.write(`${line}\n`)),
    config,
    rules,
  };
  return {
    config,
    database,
    deps,
    migrated,
    async close() {
      await database.close();
      release();
    },
  };
}

async function loadRules(config: Config): Promise<{ parsed: ParsedRules; source: RuleSource }> {
  const [{ staticRules, parseRuleSet }, { readRuleFiles }] = await Promise.all([import('./rules/rule-set.ts'), import('./rules/node.ts')]);
  const parsed = await parseRuleSet(readRuleFiles(config.RULES_DIR));
  return { parsed, source: staticRules(parsed.rules) };
}

function errorsPathFor(file: string): string {
  return file.replace(/(\.[^./]+)?$/, '.errors.csv');
}

/** Rows an import commits at a time, at most (the default: 20,000 scan lines, 2,000 rows). */
const MAX_IMPORT_BATCH = 1_000_000;

async function runImport(session: Session, kind: string, file: string, flags: { 'time-zone'?: string; batch?: string }) {
  const importers = { baskets: importBaskets, products: importProducts, members: importMembers } as const;
  const importer = importers[kind as keyof typeof importers];
  if (!importer) throw new UsageError(`import what? baskets, products or members — not ${kind}`);
  if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
  if (statSync(file).isDirectory()) throw new UsageError(`${file}: is a folder`);
  const timeZone = flags['time-zone'] ?? session.config.CHAIN_TIME_ZONE;
  if (!isTimeZone(timeZone)) {
    throw new UsageError(`--time-zone must be an IANA time zone (e.g. America/New_York), not ${timeZone}`);
  }
  const batchSize = flags.batch === undefined ? undefined : positiveInt(flags.batch, 0, 'batch', MAX_IMPORT_BATCH);
  const size = statSync(file).size;
  const errorsPath = errorsPathFor(file);
  if (existsSync(errorsPath)) unlinkSync(errorsPath);
  let errors: WriteStream | null = null;
  // Waits for the file to drain when its buffer is full: millions of bad rows stay on disk, not in memory.
  // A write error (a full disk) is kept and reported once the import stops: an 'error' with no
  // listener would end the process with a stack trace.
  let writeError: Error | null = null;
  const onReject = errorsFileWriter(() => {
    errors = createWriteStream(errorsPath);
    errors.on('error', (err) => (writeError ??= err));
    return errors;
  });
  let bytes = 0;
  const text = readTextChunks(file, { onBytes: (n) => (bytes += n) });
  const bar = progressBar({
    label: `import ${kind}`,
    unit: 'rows',
    write: (t) => process.stderr.write(t),
    isTty: !!process.stderr.isTTY,
    now: () => performance.now(),
  });
  let summary: ImportSummary;
  try {
    summary = await importer(session.deps, text, {
      timeZone,
      ...(batchSize !== undefined ? { batchSize } : {}),
      onReject,
      onProgress: (rows) => bar.update(rows, size > 0 ? bytes / size : undefined),
    });
  } catch (err) {
    if (err instanceof AppError) {
      const line = err instanceof CsvRecordError ? err.line : 1; // else the header's
      throw new UsageError(`${file}:${line}: ${err.issues.map((i) => i.message).join('; ') || err.message}`);
    }
    throw err;
  } finally {
    const open = errors as WriteStream | null;
    if (open && !writeError) {
      await new Promise<void>((resolve) => {
        open.once('error', () => resolve());
        open.end(resolve);
      });
    }
  }
  if (writeError) throw new UsageError(`${errorsPath}: the rejected rows could not be written: ${(writeError as Error).message}`);
  bar.update(summary.rows, 1);
  bar.finish();
  const parts = [`${summary.rows} rows`, `${summary.imported} imported`, `${summary.rejected} rejected`];
  if (summary.created !== undefined) {
    parts.push(`${summary.created} baskets created`, `${summary.duplicates} already stored`, `${summary.conflicts} conflicts`, `${summary.unknownGtins} unknown GTINs`);
  }
  console.log(parts.join(', '));
  if (summary.ignoredColumns.length > 0) {
    console.log(`ignored columns (not read; the README lists those read): ${summary.ignoredColumns.join(', ')}`);
  }
  if (summary.rejected > 0) {
    console.log(`rejected rows (line, field, reason): ${errorsPath}`);
    return 2;
  }
  return 0;
}

/** `--flag N`: digits only, 1 … `max` (a store number: PostgreSQL's integer; else 2^53). */
function positiveInt(value: string | undefined, fallback: number, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = wholeNumber(value, max);
  if (n === null) throw new UsageError(`--${flag} must be a whole number from 1 to ${max}, not ${value}`);
  return n;
}

/** `value` as a whole number from 1 to `max` (digits only), else null. */
function wholeNumber(value: string, max = Number.MAX_SAFE_INTEGER): number | null {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  return n >= 1 && n <= max ? n : null;
}

/** The API's CreateApiKey rules for `keys create`, with its fields named as the flags that set them. */
function keyToCreate(values: { role?: string; name?: string; store?: string; manufacturer?: string }): CreateApiKey {
  const parsed = CreateApiKey.safeParse({
    name: values.name ?? `${values.role} key`,
    role: values.role,
    ...(values.store !== undefined ? { storeId: positiveInt(values.store, 0, 'store', MAX_INT4) } : {}),
    ...(values.manufacturer !== undefined ? { manufacturerId: values.manufacturer } : {}),
  });
  if (parsed.success) return parsed.data;
  const flags: Record<string, string> = { storeId: 'store', manufacturerId: 'manufacturer' };
  throw new UsageError(
    parsed.error.issues
      .map((i) => `--${flags[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`)
      .join('\n'),
  );
}

/** What `sim generate` makes at most: a large chain (DESIGN: 1,000 stores, 10M members), ten years. */
const SIM_LIMITS = { members: 10_000_000, stores: 1_000, weeks: 520 } as const;

async function simChainFrom(
  values: { members?: string; stores?: string; weeks?: string; seed?: string; end?: string },
  config: Config,
): Promise<SimChain> {
  const { generateChain } = await import('./sim/index.ts');
  const endDate = values.end ?? localDate(new Date(), config.CHAIN_TIME_ZONE);
  const endMs = /^\d{4}-\d{2}-\d{2}$/.test(endDate) ? Date.parse(`${endDate}T00:00:00Z`) : NaN;
  if (!inRange(endMs) || new Date(endMs).toISOString().slice(0, 10) !== endDate) {
    throw new UsageError(`--end must be a date YYYY-MM-DD from 1900-01-01 to 9999-01-01, not ${endDate}`);
  }
  return generateChain({
    members: positiveInt(values.members, 5000, 'members', SIM_LIMITS.members),
    stores: positiveInt(values.stores, 8, 'stores', SIM_LIMITS.stores),
    weeks: positiveInt(values.weeks, 52, 'weeks', SIM_LIMITS.weeks),
    seed: positiveInt(values.seed, 1, 'seed'),
    endDate,
    timeZone: config.CHAIN_TIME_ZONE,
  });
}

function simBar() {
  return progressBar({
    label: 'sim',
    unit: 'lines',
    write: (t) => process.stderr.write(t),
    isTty: !!process.stderr.isTTY,
    now: () => performance.now(),
  });
}

/** Why a file cannot be opened for writing, in words (ENOENT: its folder is missing). */
function fileProblem(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such folder';
  if (code === 'EISDIR') return 'is a folder';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

/**
 * A file the command writes, opened before any work (a bad path is a usage error, not a crash
 * after the work), written with back-pressure; a write error fails the next write or the end.
 */
function outputFile(file: string): { write(chunk: string | Uint8Array): Promise<void>; end(): Promise<void> } {
  let fd: number;
  try {
    fd = openSync(file, 'w');
  } catch (err) {
    throw new UsageError(`${file}: ${fileProblem(err)}`);
  }
  const out = createWriteStream(file, { fd });
  let failure: Error | null = null;
  out.on('error', (err) => (failure = err));
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (!out.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const done = (err?: Error) => {
            out.off('drain', done).off('error', done);
            if (err) reject(err);
            else resolve();
          };
          out.on('drain', done).on('error', done);
        });
      }
    },
    end: () =>
      new Promise<void>((resolve, reject) => {
        if (failure) reject(failure);
        else out.end((err?: Error | null) => (err ? reject(err) : resolve()));
      }),
  };
}

/** Streams the basket CSV to a file in constant memory, member by member. */
async function writeSimCsv(chain: SimChain, file: string): Promise<number> {
  const { csvChunks } = await import('./sim/index.ts');
  const out = outputFile(file);
  const bar = simBar();
  const members = chain.options.members;
  let lines = -1; // the header is not a basket line
  for (let from = 0; from < members; from += 200) {
    const range = { from, to: Math.min(members, from + 200), header: from === 0 };
    for (const chunk of csvChunks(chain.basketsCsv(range))) {
      lines += chunk.split('\n').length - 1;
      await out.write(chunk);
    }
    bar.update(lines, range.to / members);
  }
  await out.end();
  bar.finish(`wrote ${lines} basket lines to ${file}`);
  return 0;
}

async function runSimLoad(session: Session, chain: SimChain): Promise<number> {
  const { loadSimChain } = await import('./sim/index.ts');
  const bar = simBar();
  const summary = await loadSimChain(session.deps, chain, {
    onProgress: (p) => bar.update(p.rows, p.share),
  });
  bar.finish(
    `loaded ${summary.stores} stores, ${summary.products} products, ${summary.members} members, ` +
      `${summary.baskets} baskets, ${summary.basketLines} basket lines`,
  );
  return 0;
}

async function runSimRun(session: Session, values: { weeks?: string; days?: string; analyse?: string }): Promise<number> {
  const days = values.days !== undefined ? positiveInt(values.days, 1, 'days') : positiveInt(values.weeks, 8, 'weeks') * 7;
  const analyse = (values.analyse ?? 'period') as AnalyseMode;
  if (analyse !== 'nightly' && analyse !== 'period') throw new UsageError(`--analyse must be nightly or period, not ${analyse}`);
  const { runSimLoop } = await import('./jobs/sim-run.ts');
  const bar = progressBar({
    label: 'sim run',
    unit: 'baskets',
    write: (t) => process.stderr.write(t),
    isTty: !!process.stderr.isTTY,
    now: () => performance.now(),
  });
  const s = await runSimLoop(session.deps, {
    days,
    analyse,
    onProgress: (p) => bar.update(p.baskets, p.days / p.totalDays, `${p.days}/${p.totalDays} days (${p.date}), ${p.redemptions.toLocaleString('en-US')} redemptions`),
  });
  bar.finish(
    `simulated ${s.firstDate} – ${s.lastDate}: ${s.baskets} baskets committed` +
      (s.replayed ? ` (${s.replayed} replayed from an earlier run, nothing added)` : '') +
      `, ${s.redemptions} offers redeemed ($${(s.discountCents / 100).toFixed(2)}), ${s.analyses} analyses, ` +
      `list periods ${s.periods.map((p) => `${p.periodStart}${p.built ? '' : ' (built before)'}: ${p.lists} lists, ${p.offers} offers`).join('; ')}\n` +
      `time: analyse ${(s.timingsMs.analyse / 1000).toFixed(1)}s, lists ${(s.timingsMs.lists / 1000).toFixed(1)}s, ` +
      `checkout ${(s.timingsMs.checkout / 1000).toFixed(1)}s, members ${(s.timingsMs.simulate / 1000).toFixed(1)}s`,
  );
  return 0;
}

/**
 * `--at`: a local date (its midnight in the chain's zone) or an instant with offset, within the
 * range the API takes (1900-01-01 … 9999-01-01); with `notAfterNow`, not later than now (analyse:
 * history ends now, as `POST /v1/jobs/analyse` says).
 */
function parseAt(value: string | undefined, timeZone: string, required: boolean, notAfterNow = false): Date {
  if (value === undefined) {
    if (required) throw new UsageError('--at DATE is required (YYYY-MM-DD)');
    return new Date();
  }
  let at: Date | null = null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const instant = localToInstant(value, timeZone);
    if (instant && localDate(new Date(instant), timeZone) === value) at = new Date(instant);
  } else if (/(Z|[+-]\d{2}:?\d{2})$/.test(value) && !Number.isNaN(Date.parse(value))) {
    at = new Date(value);
  }
  if (!at) throw new UsageError(`--at must be a date (YYYY-MM-DD) or an instant with offset, not ${value}`);
  if (!inRange(at.getTime())) throw new UsageError(`--at must lie between 1900-01-01 and 9999-01-01, not ${value}`);
  if (notAfterNow && at.getTime() > Date.now()) throw new UsageError(`--at must not be after now (history ends now), not ${value}`);
  return at;
}

async function runListsCommand(session: Session, period: string | undefined, regenerate: boolean): Promise<number> {
  if (period !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(period)) throw new UsageError(`--period must be YYYY-MM-DD, not ${period}`);
  const { startListsRun } = await import('./jobs/runners.ts');
  const running = startListsRun(session.deps, 'cli', { ...(period ? { periodStart: period } : {}), regenerate });
  if (!running) throw new Error('a list run is already in progress');
  const s = await running.done;
  console.log(
    s.built
      ? `period ${s.periodStart} – ${s.periodEnd}: ${s.lists} lists, ${s.offers} offers, ${s.controls} held out` +
          (regenerate ? ` (${s.voidedOffers} unredeemed offers voided first)` : '')
      : `period ${s.periodStart} – ${s.periodEnd} was built already: ${s.lists} lists, ${s.offers} offers (nothing added; --regenerate to rebuild)`,
  );
  for (const c of s.campaigns) {
    console.log(`  ${c.campaignId}: ${c.candidates} candidates, ${c.offers} offers, ${c.controls} held out, expected cost $${(c.expectedCostCents / 100).toFixed(2)}`);
  }
  return 0;
}

async function runListsPrint(session: Session, storeId: number, period: string, file: string, paper: string | undefined): Promise<number> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(period)) throw new UsageError(`--period must be YYYY-MM-DD, not ${period}`);
  if (paper !== undefined && paper !== 'letter' && paper !== 'a4') throw new UsageError(`--paper must be letter or a4, not ${paper}`);
  const [{ renderPrintBatch }, { composeOptions, printBatchDocuments, storeListIds }, { loadListFonts }] = await Promise.all([
    import('./lists/pdf.ts'),
    import('./lists/print.ts'),
    import('./lists/node.ts'),
  ]);
  const rules = session.deps.rules.current();
  const ids = await storeListIds(session.deps.db, storeId, period);
  if (ids.length === 0) throw new UsageError(`no lists for store ${storeId} in the period starting ${period} (run: lists run --period ${period})`);
  const out = outputFile(file);
  const bar = progressBar({
    label: `print store ${storeId}`,
    unit: 'lists',
    write: (t) => process.stderr.write(t),
    isTty: !!process.stderr.isTTY,
    now: () => performance.now(),
  });
  const stream = renderPrintBatch(printBatchDocuments(session.deps.db, ids, composeOptions(rules.settings, rules.content)), {
    paper: (paper as 'letter' | 'a4' | undefined) ?? rules.settings.lists.paper,
    fonts: loadListFonts(),
    title: `Store ${storeId} lists, period ${period}`,
    total: ids.length,
    onProgress: (p) => bar.update(p.lists, p.lists / ids.length),
  });
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) await out.write(chunk);
  await out.end();
  bar.finish(`wrote ${ids.length} lists of store ${storeId} to ${file}`);
  return 0;
}

async function runAnalyseCommand(session: Session, at: Date): Promise<number> {
  const { analyseRunnerFor } = await import('./jobs/runners.ts');
  const running = analyseRunnerFor(session.deps).start(
    { asOf: at, timeZone: session.config.CHAIN_TIME_ZONE, rules: session.deps.rules.current() },
    'cli',
  )?.done;
  if (!running) throw new Error('an analyse run is already in progress');
  const s = await running;
  const total = Object.values(s.timingsMs).reduce((a, b) => a + b, 0);
  console.log(`analysed as of ${s.asOf} in ${(total / 1000).toFixed(1)} s`);
  console.log(
    `  members ${s.memberScores.members}, qualified ${s.memberScores.qualified}, key ${s.memberScores.key}, ` +
      `churn risk ${s.memberScores.churnRisk}`,
  );
  console.log(
    `  stages: ${Object.entries(s.memberScores.byStage).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  );
  console.log(`  9-cells: ${s.cells.rows} member × category rows, ${s.cells.classified} classified`);
  console.log(`  traits: ${Object.entries(s.traits.members).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  console.log(`  cycles: ${s.cycles.memberProducts} member × product, ${s.cycles.memberCategories} member × category`);
  console.log(
    `  calibration: ${s.calibration.pairs} pairs back-tested, raw mean ${s.calibration.meanRawProb.toFixed(3)} ` +
      `vs observed ${s.calibration.observedRate.toFixed(3)}`,
  );
  console.log(`  next-basket scores: ${s.scores.rows} rows for ${s.scores.members} members`);
  console.log(`  associations: ${s.associations.pairs} category pairs`);
  console.log(`  timings (ms): ${Object.entries(s.timingsMs).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return 0;
}

async function runPredict(session: Session, at: Date, top: number, file: string): Promise<number> {
  const { exportPredictions, PREDICTIONS_CSV_COLUMNS, predictionCsvLine } = await import('./analytics/rank.ts');
  const out = outputFile(file);
  await out.write(`${PREDICTIONS_CSV_COLUMNS.join(',')}\n`);
  let rows = 0;
  const members = new Set<string>();
  for await (const r of exportPredictions(session.deps.db, {
    asOf: at,
    timeZone: session.config.CHAIN_TIME_ZONE,
    top,
  })) {
    rows++;
    members.add(r.memberNumber);
    await out.write(`${predictionCsvLine(r)}\n`);
  }
  await out.end();
  console.log(`wrote ${rows} predictions for ${members.size} members as of ${at.toISOString()} to ${file}`);
  return 0;
}

/**
 * The files `rules check PATH` looks at: a folder is a rules folder; a file is one rule file checked
 * together with the rest of RULES_DIR (replacing the file of the same name there), so its
 * references to traits and content resolve.
 */
async function rulesCheckFiles(path: string, rulesDir: string): Promise<{ files: RuleFileText[]; previewFiles?: string[] }> {
  const { readRuleFiles } = await import('./rules/node.ts');
  if (!existsSync(path)) throw new UsageError(`${path}: no such file or folder`);
  if (statSync(path).isDirectory()) return { files: readRuleFiles(path) };
  const parent = basename(dirname(resolve(path)));
  const name = ['campaigns', 'content'].includes(parent) ? `${parent}/${basename(path)}` : basename(path);
  const rest = existsSync(rulesDir) ? readRuleFiles(rulesDir) : [];
  const files = rest.filter((f) => f.name !== name);
  files.push({ name, path, text: readFileSync(path, 'utf8') });
  return { files, previewFiles: [path] };
}

async function runRulesCheck(config: Config, path: string): Promise<number> {
  const [{ checkRuleFiles, formatRulesCheck, parseRuleSet, RuleFileError }, { staticRules }] = await Promise.all([
    import('./rules/index.ts'),
    import('./rules/rule-set.ts'),
  ]);
  const { files, previewFiles } = await rulesCheckFiles(path, config.RULES_DIR);
  try {
    await parseRuleSet(files);
  } catch (err) {
    if (!(err instanceof RuleFileError)) throw err;
    console.log(formatRulesCheck({ ok: false, issues: err.issues, warnings: [], rules: null, previews: [] }));
    return 1;
  }
  let session: Awaited<ReturnType<typeof openSession>>;
  try {
    session = await openSession(config, { rules: staticRules() });
  } catch (err) {
    if (!(err instanceof DataDirBusyError)) throw err;
    console.log(`${files.length} rule files valid; catalogue references and the preview not checked:`);
    console.log(`  ${err.message}`);
    console.log('  (the running server previews a campaign at POST /v1/rules/preview)');
    return 2;
  }
  try {
    const result = await checkRuleFiles(session.deps, files, previewFiles ? { previewFiles } : {});
    console.log(formatRulesCheck(result));
    return result.ok ? 0 : 1;
  } finally {
    await session.close();
  }
}

/** `rules bundle`: the rules folder as a module for the edge; nothing is written when a file is invalid. */
async function runRulesBundle(dir: string, out: string | undefined): Promise<number> {
  if (!out) throw new UsageError('usage: rules bundle [DIR] --out FILE.js');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir}: no such folder`);
  const [{ readRuleFiles }, { rulesBundleModule }, { formatRulesCheck, RuleFileError }] = await Promise.all([
    import('./rules/node.ts'),
    import('./rules/bundle.ts'),
    import('./rules/index.ts'),
  ]);
  const files = readRuleFiles(dir);
  let source: string;
  try {
    source = await rulesBundleModule(files);
  } catch (err) {
    if (!(err instanceof RuleFileError)) throw err;
    console.error(formatRulesCheck({ ok: false, issues: err.issues, warnings: [], rules: null, previews: [] }));
    return 1;
  }
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, source);
  console.log(`bundled ${files.length} rule files from ${dir} into ${out}`);
  return 0;
}

/** node:util's parseArgs, its complaints (an option without its value…) as usage errors. */
function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  }
}

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      store: { type: 'string' },
      manufacturer: { type: 'string' },
      name: { type: 'string' },
      'time-zone': { type: 'string' },
      batch: { type: 'string' },
      members: { type: 'string' },
      stores: { type: 'string' },
      weeks: { type: 'string' },
      seed: { type: 'string' },
      end: { type: 'string' },
      out: { type: 'string' },
      at: { type: 'string' },
      top: { type: 'string' },
      period: { type: 'string' },
      regenerate: { type: 'boolean' },
      paper: { type: 'string' },
      days: { type: 'string' },
      analyse: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, arg] = positionals;
  if (!command || values.help) {
    console.log(usage);
    return command ? 0 : 1;
  }
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new UsageError(`bad configuration:\n  ${parsed.errors.join('\n  ')}`);
  if (command === 'rules') {
    if (sub === 'bundle') return runRulesBundle(arg ?? parsed.config.RULES_DIR, values.out);
    if (sub !== 'check') throw new UsageError('usage: rules check [PATH] | rules bundle [DIR] --out FILE.js');
    return runRulesCheck(parsed.config, arg ?? parsed.config.RULES_DIR);
  }
  if (command === 'sim' && sub === 'generate' && values.out) {
    return writeSimCsv(await simChainFrom(values, parsed.config), values.out);
  }
  const needsRules = !['migrate', 'import', 'keys'].includes(command);
  const session = await openSession(parsed.config, needsRules ? {} : { rules: noRules });
  try {
    switch (command) {
      case 'migrate':
        for (const name of session.migrated) console.log(`applied ${name}`);
        {
          const n = session.migrated.length;
          console.log(`schema is up to date (${n ? `${n} migration${n === 1 ? '' : 's'} applied` : 'nothing to apply'})`);
        }
        return 0;
      case 'import':
        if (!sub || !arg) throw new UsageError('usage: import baskets|products|members FILE');
        return await runImport(session, sub, arg, values);
      case 'sim':
        if (sub === 'run') return await runSimRun(session, values);
        if (sub !== 'generate') throw new UsageError('usage: sim generate [options] | sim run [--weeks N] [--days N]');
        return await runSimLoad(session, await simChainFrom(values, session.config));
      case 'analyse':
        return await runAnalyseCommand(session, parseAt(values.at, session.config.CHAIN_TIME_ZONE, false, true));
      case 'predict': {
        const at = parseAt(values.at, session.config.CHAIN_TIME_ZONE, true);
        if (!values.out) throw new UsageError('predict needs --out FILE.csv');
        return await runPredict(session, at, positiveInt(values.top, 20, 'top'), values.out);
      }
      case 'lists':
        if (sub === 'run') return await runListsCommand(session, values.period, values.regenerate === true);
        if (sub === 'print') {
          if (!values.store || !values.period || !values.out) {
            throw new UsageError('usage: lists print --store N --period YYYY-MM-DD --out FILE.pdf [--paper letter|a4]');
          }
          return await runListsPrint(session, positiveInt(values.store, 0, 'store', MAX_INT4), values.period, values.out, values.paper);
        }
        throw new UsageError('usage: lists run [--period YYYY-MM-DD] [--regenerate] | lists print --store N --period DATE --out FILE.pdf');
      case 'keys':
        if (sub === 'create') {
          if (!values.role || !(Role.options as readonly string[]).includes(values.role)) {
            throw new UsageError('keys create needs --role admin|marketer|vendor|pos');
          }
          const created = await createApiKey(session.deps, keyToCreate(values));
          console.log(`created ${created.role} key #${created.id}${created.storeId ? ` for store ${created.storeId}` : ''}`);
          console.log(`key (shown once, only its hash is stored): ${created.key}`);
          return 0;
        }
        if (sub === 'list') {
          for (const k of await listApiKeys(session.deps)) {
            console.log(`#${k.id}\t${k.role}\t${k.prefix}…\t${k.storeId ?? k.manufacturerId ?? ''}\t${k.name}${k.revokedAt ? '\trevoked' : ''}`);
          }
          return 0;
        }
        if (sub === 'revoke' && arg) {
          const id = wholeNumber(arg);
          if (id === null) throw new UsageError(`keys revoke takes a key's number (see keys list), not ${arg}`);
          await revokeApiKey(session.deps, id);
          console.log(`revoked key #${arg}`);
          return 0;
        }
        throw new UsageError('usage: keys create|list|revoke');
      default:
        throw new UsageError(`unknown command ${command}\n\n${usage}`);
    }
  } finally {
    await session.close();
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError || err instanceof DataDirBusyError) console.error(`cadence: ${err.message}`);
      else if (err instanceof AppError) {
        console.error(`cadence: ${err.message}`);
        for (const i of err.issues) console.error(`  ${i.path}: ${i.message}`);
      } else console.error(err);
      process.exit(1);
    },
  );
}
