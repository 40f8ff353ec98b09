import { AsyncLocalStorage } from 'node:async_hooks';
import bundledRuleFiles from 'cadence:rules';
import dejavuSans from 'dejavu-fonts-ttf/ttf/DejaVuSans.ttf';
import dejavuSansBold from 'dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf';
import { createApp } from './app.ts';
import { parseConfig, type Config } from './config.ts';
import type { Db } from './db/index.ts';
import { postgresClient, postgresKysely } from './db/postgres.ts';
import type { Deps } from './deps.ts';
import { analyseRunnerFor, startListsRun } from './jobs/runners.ts';
import { systemClock } from './lib/clock.ts';
import { cryptoIds } from './lib/ids.ts';
import { errorFields, jsonLogger, type Logger } from './lib/logger.ts';
import { LiveRules, parseRuleSet } from './rules/rule-set.ts';

/**
 * Cloudflare Workers entry (wrangler.toml). The same app as on Node, with:
 * - the database: PostgreSQL through Hyperdrive (binding HYPERDRIVE), or DATABASE_URL (a secret)
 *   where there is no Hyperdrive. Workers may not share a socket between requests, so each request
 *   (and each cron run) opens its own postgres.js client and closes it when done; Hyperdrive keeps
 *   the real connections pooled near the database. The app itself is built once per isolate (its
 *   routes and OpenAPI document cost ~7 ms to build, most of a request's CPU budget): its `db` is
 *   a stand-in that forwards to the running request's client (AsyncLocalStorage, nodejs_compat).
 *   Migrations are not run here: run `npm run migrate` with DATABASE_URL before deploying.
 * - the rules: bundled at deploy time (src/rules/bundle.ts), parsed once per isolate. There is no
 *   hot reload on the edge: a rules change is a deploy.
 * - the list PDFs' DejaVu Sans (text outside Latin-1): bundled as Data modules (wrangler.toml's
 *   `[[rules]]`), about 1.4 MB of the worker's size; each PDF embeds only the glyphs it uses.
 * - schedules: Cron Triggers (UTC) call the same job functions as node-cron does on Node; a cron
 *   equal to ANALYSE_SCHEDULE runs the analytics, one equal to LISTS_SCHEDULE the list period job.
 */

export interface Env {
  HYPERDRIVE?: { connectionString: string };
  [name: string]: unknown;
}

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

interface ScheduledController {
  cron: string;
  scheduledTime: number;
}

/** The running request's (or cron run's) database client. */
const requestDb = new AsyncLocalStorage<Db>();

/** Forwards every use to the running request's client; outside one, it throws. */
const db = new Proxy({} as Db, {
  get(_target, prop) {
    const current = requestDb.getStore();
    if (!current) throw new Error('the database is only available while a request or cron run is handled');
    const value = Reflect.get(current, prop, current) as unknown;
    return typeof value === 'function' ? value.bind(current) : value;
  },
});

/** Built once per isolate: the configuration and the bundled rules never change while it lives. */
let setup: Promise<{ deps: Deps; app: ReturnType<typeof createApp> }> | null = null;

function isolateSetup(env: Env) {
  setup ??= (async () => {
    const vars: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) if (typeof value === 'string') vars[name] = value;
    const parsed = parseConfig(vars);
    if (!parsed.ok) throw new Error(`bad configuration: ${parsed.errors.join('; ')}`);
    const config = parsed.config;
    const logger = jsonLogger(config.LOG_LEVEL, (line) => console.log(line));
    const { rules } = await parseRuleSet(bundledRuleFiles);
    const deps: Deps = {
      db, clock: systemClock, ids: cryptoIds, logger, config, rules: new LiveRules(rules, systemClock.now()), requestBound: true,
      listFonts: { regular: dejavuSans, bold: dejavuSansBold },
    };
    return { deps, app: createApp(deps) };
  })();
  setup.catch(() => (setup = null));
  return setup;
}

/** Runs `fn` with a database client of its own (null: none configured), closed when it is done. */
async function withDatabase<T>(env: Env, ctx: ExecutionContext, fn: () => Promise<T>): Promise<T | null> {
  const { deps } = await isolateSetup(env);
  const url = env.HYPERDRIVE?.connectionString ?? deps.config.DATABASE_URL;
  if (!url) return null;
  const client = postgresKysely(postgresClient(url, 5));
  try {
    return await requestDb.run(client, fn);
  } finally {
    ctx.waitUntil(client.destroy());
  }
}

function noDatabase(): Response {
  return Response.json(
    {
      type: 'https://cadence.dev/problems/no-database',
      title: 'No database configured',
      status: 503,
      detail: 'bind Hyperdrive as HYPERDRIVE or set the DATABASE_URL secret',
      issues: [],
    },
    { status: 503, headers: { 'content-type': 'application/problem+json' } },
  );
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const { app } = await isolateSetup(env);
    return (await withDatabase(env, ctx, async () => app.fetch(request))) ?? noDatabase();
  },

  async scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const { deps } = await isolateSetup(env);
    const { config, logger } = deps;
    const job: (() => Promise<unknown>) | null =
      controller.cron === config.ANALYSE_SCHEDULE
        ? () =>
            analyseRunnerFor(deps).start(
              { asOf: new Date(controller.scheduledTime), timeZone: config.CHAIN_TIME_ZONE, rules: deps.rules.current() },
              'schedule',
            )?.done ?? Promise.reject(new Error('an analyse run is already in progress'))
        : controller.cron === config.LISTS_SCHEDULE
          ? () =>
              startListsRun(deps, 'schedule')?.done ?? Promise.reject(new Error('a list run is already in progress'))
          : null;
    if (!job) {
      logger.warn('scheduled run: no job for this cron', { cron: controller.cron });
      return;
    }
    try {
      const done = await withDatabase(env, ctx, job);
      if (done === null) logger.error('scheduled run skipped: no database configured', { cron: controller.cron });
    } catch (err) {
      logger.error('scheduled run failed', { cron: controller.cron, ...errorFields(err) });
      throw err;
    }
  },
};
