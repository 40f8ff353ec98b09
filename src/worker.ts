import bundledRuleFiles from 'cadence:rules';
import { createApp } from './app.ts';
import { parseConfig, type Config } from './config.ts';
import { postgresClient, postgresKysely } from './db/postgres.ts';
import type { Deps } from './deps.ts';
import { runAnalyse } from './jobs/analyse.ts';
import { runListsJob } from './jobs/lists.ts';
import { systemClock } from './lib/clock.ts';
import { cryptoIds } from './lib/ids.ts';
import { jsonLogger, type Logger } from './lib/logger.ts';
import { LiveRules, parseRuleSet } from './rules/rule-set.ts';

/**
 * Cloudflare Workers entry (wrangler.toml). The same app as on Node, with:
 * - the database: PostgreSQL through Hyperdrive (binding HYPERDRIVE), or DATABASE_URL (a secret)
 *   where there is no Hyperdrive. Workers may not share a socket between requests, so each request
 *   (and each cron run) opens its own postgres.js client and closes it when done; Hyperdrive keeps
 *   the real connections pooled near the database. Migrations are not run here: run
 *   `npm run migrate` with DATABASE_URL before deploying.
 * - the rules: bundled at deploy time (src/rules/bundle.ts), parsed once per isolate. There is no
 *   hot reload on the edge: a rules change is a deploy.
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

/** Parsed once per isolate: the configuration and the bundled rules never change while it lives. */
let setup: Promise<{ config: Config; logger: Logger; rules: LiveRules }> | null = null;

function isolateSetup(env: Env) {
  setup ??= (async () => {
    const vars: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) if (typeof value === 'string') vars[name] = value;
    const parsed = parseConfig(vars);
    if (!parsed.ok) throw new Error(`bad configuration: ${parsed.errors.join('; ')}`);
    const logger = jsonLogger(parsed.config.LOG_LEVEL, (line) => console.log(line));
    const { rules } = await parseRuleSet(bundledRuleFiles);
    return { config: parsed.config, logger, rules: new LiveRules(rules, systemClock.now()) };
  })();
  setup.catch(() => (setup = null));
  return setup;
}

/** Deps for one request or cron run, with a database client of its own; `close` ends it. */
async function requestDeps(env: Env): Promise<{ deps: Deps; close: () => Promise<void> } | null> {
  const { config, logger, rules } = await isolateSetup(env);
  const url = env.HYPERDRIVE?.connectionString ?? config.DATABASE_URL;
  if (!url) return null;
  const client = postgresClient(url, 5);
  const db = postgresKysely(client);
  return {
    deps: { db, clock: systemClock, ids: cryptoIds, logger, config, rules },
    close: () => db.destroy(),
  };
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
    const opened = await requestDeps(env);
    if (!opened) return noDatabase();
    try {
      return await createApp(opened.deps).fetch(request);
    } finally {
      ctx.waitUntil(opened.close());
    }
  },

  async scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const opened = await requestDeps(env);
    const { config, logger } = await isolateSetup(env);
    if (!opened) {
      logger.error('scheduled run skipped: no database configured', { cron: controller.cron });
      return;
    }
    const { deps, close } = opened;
    const run = async () => {
      if (controller.cron === config.ANALYSE_SCHEDULE) {
        await runAnalyse(deps, {
          asOf: new Date(controller.scheduledTime),
          timeZone: config.CHAIN_TIME_ZONE,
          rules: deps.rules.current(),
        });
      } else if (controller.cron === config.LISTS_SCHEDULE) {
        await runListsJob(deps);
      } else {
        logger.warn('scheduled run: no job for this cron', { cron: controller.cron });
      }
    };
    try {
      await run();
    } catch (err) {
      logger.error('scheduled run failed', { cron: controller.cron, error: (err as Error).message });
      throw err;
    } finally {
      ctx.waitUntil(close());
    }
  },
};
