import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import cron from 'node-cron';
import { createApiKey } from './auth/index.ts';
import { createApp } from './app.ts';
import { parseConfig } from './config.ts';
import { migrateToLatest } from './db/index.ts';
import { DataDirBusyError, lockDataDir } from './db/lock.ts';
import { openDatabase } from './db/node.ts';
import type { Deps } from './deps.ts';
import { systemClock } from './lib/clock.ts';
import { cryptoIds } from './lib/ids.ts';
import { errorFields, jsonLogger } from './lib/logger.ts';
import { progressBar } from './lib/progress.ts';
import { ensureDemoChain } from './jobs/demo.ts';
import { endRun, failOrphanedRuns, type RunningJob } from './jobs/job-runs.ts';
import { analyseRunnerFor, listsRunnerFor, startListsRun } from './jobs/runners.ts';
import { startLiveChain, type LiveChain } from './jobs/sim-run.ts';
import { sql } from 'kysely';
import { loadListFonts } from './lists/node.ts';
import { readRuleFiles, watchRules } from './rules/node.ts';
import { checkReferences, formatIssue, LiveRules, parseRuleSet, type ParsedRules } from './rules/index.ts';
import { AppError } from './lib/errors.ts';

/** A signal that came before the server was up: the start stops at its next safe point. */
class StartStopped extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal} received while starting`);
  }
}

/**
 * What the start holds so far, for a signal before the server is up: the data folder's lock and
 * the database, released and closed when the start stops; `step` is what it is doing.
 */
const held: { release: () => void; database: { close(): Promise<void> } | null; step: string } = {
  release: () => {},
  database: null,
  step: 'reading the configuration',
};
const starting = new AbortController();

/** Exit status for a start stopped by `signal`: 128 + its number, as a shell reports it. */
const signalExit = (signal: NodeJS.Signals) => 128 + (signal === 'SIGINT' ? 2 : 15);

/**
 * SIGTERM/SIGINT from the first line on. While starting, the first one asks the start to stop at
 * its next safe point (between steps: a migration, a batch of the demo load under way finishes
 * first), see stopped(); a second one exits at once. Once the server is up, `stop` takes over.
 */
let onSignal = (signal: NodeJS.Signals): void => {
  if (starting.signal.aborted) {
    console.error(`cadence: second ${signal} while starting: exiting now`);
    held.release();
    process.exit(signalExit(signal));
  }
  console.error(`cadence: ${signal} received while starting (${held.step}): stopping at the next safe point`);
  starting.abort(new StartStopped(signal));
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

/** Throws StartStopped when a signal came; else records the step the start goes on to. */
function checkpoint(next: string): void {
  starting.signal.throwIfAborted();
  held.step = next;
}

/** Node entry: embedded PGlite (or PostgreSQL via DATABASE_URL), migrations, the HTTP server. */
async function start(): Promise<void> {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) {
    console.error(`cadence: bad configuration:\n  ${parsed.errors.join('\n  ')}`);
    process.exit(1);
  }
  const config = parsed.config;
  for (const [name, value] of [['ANALYSE_SCHEDULE', config.ANALYSE_SCHEDULE], ['LISTS_SCHEDULE', config.LISTS_SCHEDULE]]) {
    if (value !== 'off' && !cron.validate(value!)) {
      console.error(`cadence: bad configuration:\n  ${name}: not a cron expression (or off): ${value}`);
      process.exit(1);
    }
  }
  let parsedRules: ParsedRules;
  try {
    parsedRules = await parseRuleSet(readRuleFiles(config.RULES_DIR));
  } catch (err) {
    if (err instanceof AppError) {
      console.error(`cadence: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const baseUrl = config.PUBLIC_URL ?? `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${config.PORT}`;
  // Before the database and the demo load (a minute on a first start): a port already taken
  // would otherwise be found only then.
  checkpoint('checking the port');
  const portProblem = await cannotListen(config.PORT, config.HOST);
  if (portProblem) {
    console.error(`cadence: ${portProblem}`);
    process.exit(1);
  }
  let release = () => {};
  if (!config.DATABASE_URL) {
    checkpoint('locking the data folder');
    try {
      release = held.release = lockDataDir(config.DATA_DIR, { owner: 'server', url: baseUrl });
    } catch (err) {
      if (err instanceof DataDirBusyError) {
        console.error(`cadence: ${err.message}`);
        process.exit(1);
      }
      throw err;
    }
  }
  const logger = jsonLogger(config.LOG_LEVEL, (line) => process.stdout.write(`${line}\n`));
  checkpoint('opening the database');
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  held.database = database;
  // Migrations run whole (in their transaction): a signal meanwhile is seen after them.
  checkpoint('migrating the database');
  const applied = await migrateToLatest(database.db);
  if (applied.length) logger.info('migrations applied', { migrations: applied });
  checkpoint('checking the database and the rules');
  if (!config.DATABASE_URL) {
    // The data folder is ours alone (locked): a `running` run in it was left by a process that
    // stopped mid-run (killed, or a shutdown whose grace ran out). Nothing of it was kept.
    const orphaned = await failOrphanedRuns(
      database.db,
      'the process running it stopped (SIGTERM, SIGINT or a crash) before it finished; nothing of it was kept',
    );
    if (orphaned.length) logger.warn('runs left unfinished by the last process marked failed', { runIds: orphaned });
  }
  const checkRules = async () => {
    const references = await checkReferences(database.db, parsedRules);
    if (references.issues.length > 0) {
      console.error(`cadence: the rules name things the catalogue does not have:\n  ${references.issues.map(formatIssue).join('\n  ')}`);
      await closeAndExit(1);
    }
    for (const warning of references.warnings) logger.warn('rules', { warning });
  };
  const demo = config.DEMO === 'on' || (config.DEMO === 'auto' && !config.DATABASE_URL);
  // A demo's first start brings its catalogue with the chain: the rules are checked against that
  // once it is loaded (before, every first start warned that the catalogue was empty).
  const checkAfterDemo = demo && !(await database.db.selectFrom('products').select('gtin').limit(1).executeTakeFirst());
  if (!checkAfterDemo) await checkRules();
  const rules = new LiveRules(parsedRules.rules, systemClock.now());
  const rulesWatcher =
    config.RULES_RELOAD === 'on'
      ? watchRules(config.RULES_DIR, rules, {
          logger,
          clock: systemClock,
          validate: async (parsed) => (await checkReferences(database.db, parsed)).issues,
        })
      : null;

  const deps: Deps = {
    db: database.db,
    copyIn: database.copyIn,
    copyTx: database.copyTx,
    clock: systemClock,
    ids: cryptoIds,
    logger,
    config,
    rules,
    listFonts: loadListFonts(),
  };
  if (!deps.listFonts) logger.warn('lists', { warning: 'dejavu-fonts-ttf not found: list PDFs print only Latin-1 text correctly' });
  checkpoint('loading the demo chain');
  const demoKey = demo ? await prepareDemo(deps, starting.signal) : null;
  if (checkAfterDemo) await checkRules();
  checkpoint('reading the database');
  const analyse = (why: 'first start' | 'schedule') => {
    const running = analyseRunnerFor(deps).start(
      { asOf: deps.clock.now(), timeZone: config.CHAIN_TIME_ZONE, rules: rules.current() },
      why === 'schedule' ? 'schedule' : 'start',
    )?.done;
    if (!running) {
      logger.warn('analyse skipped: another run is in progress', { why });
      return null;
    }
    logger.info('analyse started', { why });
    return running.catch((err: unknown) => {
      logger.error('analyse failed', { why, ...errorFields(err) });
      return null;
    });
  };
  const lists = (why: 'first start' | 'schedule') => {
    const running = startListsRun(deps, why === 'schedule' ? 'schedule' : 'start')?.done;
    if (!running) {
      logger.warn('list period skipped: another list run is in progress', { why });
      return null;
    }
    return running.catch((err: unknown) => {
      logger.error('list period failed', { why, ...errorFields(err) });
      return null;
    });
  };
  // Read before the first analyse starts: on PGlite it holds the one connection for a while.
  // The demo's most frequent shopper (surely qualified for a list), for the start banner only.
  const sampleMember = demoKey
    ? await deps.db
        .selectFrom('members')
        .select('member_number')
        .where('member_number', 'is not', null)
        .where('id', '=', (eb) =>
          eb.selectFrom('baskets').select('member_id').where('member_id', '<>', 0)
            .groupBy('member_id').orderBy(sql`count(*)`, 'desc').orderBy('member_id').limit(1),
        )
        .executeTakeFirst()
    : undefined;
  // A database that was never analysed (the demo's first start) gets its analytics right away.
  const analysed = await deps.db.selectFrom('analytics_snapshots').select('component').limit(1).execute();
  // The last point a start can stop at: from here to the signal handlers' hand-over to `stop`
  // below, nothing waits.
  checkpoint('starting the server');
  const firstAnalyse = analysed.length === 0 && !!demoKey;
  // ...and the current list period right after, so the demo has lists to show.
  // Both start once the server listens: PGlite runs queries on this thread, so a long analyse
  // started earlier would hold back the listening socket and the start banner.
  let markListening!: () => void;
  const listening = new Promise<void>((resolve) => (markListening = resolve));
  const ready = firstAnalyse
    ? listening
        .then(() => (stopping ? null : analyse('first start')))
        .then((done) => (done && !stopping ? lists('first start') : null))
    : Promise.resolve(null);
  // The living chain starts once the first analytics and lists are there (they share PGlite).
  let live: LiveChain | null = null;
  if (config.DEMO_LIVE === 'on') {
    void ready?.then(() => {
      if (stopping) return;
      logger.info('living chain started', { everySeconds: config.DEMO_LIVE_SECONDS });
      live = startLiveChain(deps, {
        everyMs: config.DEMO_LIVE_SECONDS * 1000,
        onDay: (s) =>
          logger.info('living chain: day simulated', {
            date: s.lastDate, baskets: s.baskets, redemptions: s.redemptions, lists: s.periods.filter((p) => p.built).length,
          }),
        onError: (err) => logger.error('living chain stopped', errorFields(err)),
      });
    });
  }
  if (config.ANALYSE_SCHEDULE !== 'off') {
    cron.schedule(config.ANALYSE_SCHEDULE, () => analyse('schedule'), {
      timezone: config.CHAIN_TIME_ZONE,
      name: 'analyse',
      noOverlap: true,
    });
  }
  if (config.LISTS_SCHEDULE !== 'off') {
    // Daily: builds the period holding today when it is not built yet (a rerun adds nothing).
    cron.schedule(config.LISTS_SCHEDULE, () => void lists('schedule'), {
      timezone: config.CHAIN_TIME_ZONE,
      name: 'lists',
      noOverlap: true,
    });
  }
  const app = createApp(deps);
  let stopping = false;
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    const where = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.DATA_DIR}`;
    // One write: the banner's lines never interleave with the JSON log lines of the jobs that start
    // now, and whoever reads the output (a log collector, a test) gets it whole.
    const banner: string[] = [];
    banner.push(`\nCadence is running on ${baseUrl} (port ${info.port}), database: ${where}`);
    banner.push(`  API docs:     ${baseUrl}/docs   (OpenAPI: ${baseUrl}/openapi.json)`);
    banner.push(`  health:       ${baseUrl}/healthz, ${baseUrl}/readyz`);
    if (demoKey) {
      banner.push(`  demo admin key: ${demoKey}`);
      if (firstAnalyse) {
        banner.push('  analytics:    computing in the background, then this period\'s lists (about a minute);');
        banner.push('                profiles and lists answer after that');
      }
      banner.push('  try:');
      banner.push(`    curl -H "Authorization: Bearer ${demoKey}" ${baseUrl}/v1/keys`);
      if (sampleMember) {
        banner.push(
          `    curl -H "Authorization: Bearer ${demoKey}" ${baseUrl}/v1/members/${sampleMember.member_number}/profile`,
        );
      }
      banner.push(`    curl -H "Authorization: Bearer ${demoKey}" ${baseUrl}/v1/associations`);
      if (sampleMember) {
        banner.push(
          `    curl -H "Authorization: Bearer ${demoKey}" -o list.pdf ${baseUrl}/v1/members/${sampleMember.member_number}/lists/current.pdf`,
        );
      }
      banner.push(`    npm run cadence -- keys create --role pos --store 3   (stop the server first: it owns ${config.DATA_DIR})`);
    }
    process.stdout.write(`${banner.join('\n')}\n`);
    markListening();
  });
  // Taken between the check above and now (or refused for another reason): say so, close the
  // database and release the data folder, instead of dying on an unhandled 'error' event.
  server.once('error', (err: NodeJS.ErrnoException) => {
    if (stopping) return;
    stopping = true;
    console.error(`cadence: ${listenProblem(err, config.PORT, config.HOST)}`);
    void cron.shutdown();
    rulesWatcher?.close();
    void closeAndExit(1);
  });

  /**
   * SIGTERM/SIGINT: stop taking requests and schedules, give a job run in progress
   * SHUTDOWN_GRACE_SECONDS to finish; a run still going then is recorded as failed — on PostgreSQL
   * at once (its transaction, cut off with the connections, keeps nothing, and can no longer end
   * `done`: endRun needs the row `running`); on PGlite, whose one connection the run holds, by the
   * next start. Then close the database and release the data folder. A second signal exits at once.
   */
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn('second signal: exiting now', { signal });
      release();
      process.exit(1);
    }
    stopping = true;
    logger.info('shutting down', { signal });
    server.close();
    rulesWatcher?.close();
    await cron.shutdown();
    await live?.stop();
    const runs: Pick<RunningJob<unknown, unknown>, 'started' | 'done'>[] = [];
    for (const r of [analyseRunnerFor(deps).current, listsRunnerFor(deps).current]) if (r) runs.push(r);
    const settled = await within(
      Promise.all(runs.map((r) => r.done.catch(() => null))),
      config.SHUTDOWN_GRACE_SECONDS * 1000,
    );
    let closeDatabase = true;
    if (!settled) {
      const error = `the server was stopped (${signal}) before the run finished; nothing of it was kept`;
      for (const run of runs) {
        const started = (await within(run.started, 1000))?.value;
        if (!started) continue;
        if (database.kind === 'postgres') {
          await within(
            endRun(database.db, started.id, { error }).then(
              () => logger.warn('run interrupted by shutdown', { runId: started.id }),
              () => {}, // it ended meanwhile
            ),
            5000,
          );
        } else {
          logger.warn('run interrupted by shutdown; the next start records it as failed', { runId: started.id });
          // PGlite's connection is the run's: closing would wait for it.
          closeDatabase = false;
        }
      }
    }
    // postgres.js waits for a connection a cut-off run still holds: not long (the server rolls it back).
    if (!closeDatabase) {
      // PGlite: the run holds its connection; the next start records the run as failed
    } else if (await within(database.close(), settled ? 10_000 : 2000)) {
      logger.info('database closed');
    } else {
      logger.warn('database did not close in time');
    }
    release();
    process.exit(0);
  };
  onSignal = (signal) => void stop(signal);
}

/** `p`'s outcome if it settles within `ms` (`value` undefined when it rejected), else null. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value: T | undefined } | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value }), () => ({ value: undefined })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Loads the demo chain into an empty database and keeps its admin key in DATA_DIR, so every demo
 * start can print it. (Real deployments create keys with `cadence keys create`; only hashes are
 * stored in the database.) A database that had data before is not the demo's (a chain imported
 * before the first start, DEMO left at auto): no admin key is made for it, none is printed (null).
 *
 * A load stopped by a signal keeps what it wrote; DATA_DIR/demo-loading.json (written before the
 * load, removed once the key is kept) tells the next start to complete that chain.
 */
async function prepareDemo(deps: Deps, signal: AbortSignal): Promise<string | null> {
  const keyFile = join(deps.config.DATA_DIR, 'demo-admin-key.txt');
  const pendingFile = join(deps.config.DATA_DIR, 'demo-loading.json');
  let resume: { endDate: string } | undefined;
  if (existsSync(pendingFile)) {
    const pending = JSON.parse(readFileSync(pendingFile, 'utf8')) as { endDate?: unknown };
    if (typeof pending.endDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(pending.endDate)) {
      throw new Error(`${pendingFile}: no endDate; remove it and the data folder to load the demo afresh`);
    }
    resume = { endDate: pending.endDate };
  }
  const bar = progressBar({
    label: 'demo chain',
    unit: 'rows',
    write: (t) => process.stderr.write(t),
    isTty: !!process.stderr.isTTY,
    now: () => performance.now(),
  });
  const loaded = await ensureDemoChain(deps, {
    onProgress: (p) => bar.update(p.rows, p.share),
    signal,
    resume,
    onLoading: (endDate) => {
      mkdirSync(deps.config.DATA_DIR, { recursive: true });
      writeFileSync(pendingFile, `${JSON.stringify({ endDate })}\n`);
    },
  });
  if (loaded) {
    bar.finish(
      `demo chain loaded: ${loaded.stores} stores, ${loaded.members} members, ${loaded.baskets} baskets, ` +
        `${loaded.basketLines} basket lines`,
    );
  }
  if (loaded) {
    const created = await createApiKey(deps, { name: 'demo admin', role: 'admin' });
    writeFileSync(keyFile, `${created.key}\n`, { mode: 0o600 });
  }
  if (resume || loaded) rmSync(pendingFile, { force: true });
  return existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : null;
}

start().catch(async (err: unknown) => {
  if (err instanceof StartStopped) return stopped(err.signal);
  console.error('cadence: failed to start:', err);
  await closeAndExit(1);
});

/** Closes the database the start opened (if any; up to 10 s), releases the data folder, exits. */
async function closeAndExit(code: number): Promise<never> {
  if (held.database && !(await within(held.database.close(), 10_000))) {
    console.error('cadence: the database did not close in time');
  }
  held.release();
  process.exit(code);
}

/** Why the server could not listen on host:port, for the operator (null: it can). */
function cannotListen(port: number, host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(listenProblem(err, port, host)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

function listenProblem(err: NodeJS.ErrnoException, port: number, host: string): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is in use by another program (PORT): stop it, or set PORT to a free port`;
    case 'EACCES':
      return `port ${port} on ${host} needs privileges this user does not have (PORT): choose a port above 1023`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${host} (HOST): not an address of this machine`;
    default:
      return `cannot listen on ${host}:${port} (HOST, PORT): ${err.message}`;
  }
}

/** A start stopped by a signal: close the database, release the data folder, exit non-zero. */
async function stopped(signal: NodeJS.Signals): Promise<never> {
  let database = 'no database was open';
  if (held.database) database = (await within(held.database.close(), 10_000)) ? 'database closed' : 'the database did not close in time';
  held.release();
  console.error(
    `cadence: start-up stopped by ${signal} while ${held.step}; ${database}, data folder released. ` +
      'The server did not start; the next start goes on from what was done (a demo load part-way is completed).',
  );
  process.exit(signalExit(signal));
}
