import { z } from 'zod';

/**
 * Configuration, parsed once at the entry point (`node.ts`, `cli.ts`, later `worker.ts`).
 * Nothing else reads the environment.
 */
export const Config = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  /** Real PostgreSQL; when unset, the embedded PGlite database in DATA_DIR is used. */
  DATABASE_URL: z.string().url().optional(),
  DATA_DIR: z.string().default('./data'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** Time zone for CSV timestamps without an offset and for new stores without one. */
  CHAIN_TIME_ZONE: z
    .string()
    .default('America/New_York')
    .refine(isTimeZone, { message: 'not an IANA time zone, e.g. America/New_York' }),
  /** Largest request body accepted, in bytes (larger bodies get 413). */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(8 * 1024 * 1024),
  /** Public base URL printed in messages (defaults to http://HOST:PORT). */
  PUBLIC_URL: z.string().url().optional(),
  /**
   * The demo chain on first start: `auto` loads it into an empty embedded database (not into a
   * PostgreSQL given by DATABASE_URL), `on` always into an empty database, `off` never.
   */
  DEMO: z.enum(['auto', 'on', 'off']).default('auto'),
  /**
   * The demo's living chain: `on` drives the loaded simulated chain forward one simulated day every
   * DEMO_LIVE_SECONDS through the API (lists, members shopping their offers, checkout), on a clock
   * of its own that runs ahead of the wall clock. Off by default.
   */
  DEMO_LIVE: z.enum(['on', 'off']).default('off'),
  DEMO_LIVE_SECONDS: z.coerce.number().positive().default(30),
  /** The marketers' rule files (settings.yaml, traits.yaml, campaigns/). */
  RULES_DIR: z.string().default('./rules'),
  /** Hot reload of RULES_DIR on the Node server: a valid edit goes live, an invalid one is refused. */
  RULES_RELOAD: z.enum(['on', 'off']).default('on'),
  /**
   * When the nightly analytics run (cron syntax, in CHAIN_TIME_ZONE), or `off`. Only the Node
   * server schedules; `cadence analyse` and POST /v1/jobs/analyse run it on demand.
   */
  ANALYSE_SCHEDULE: z.string().default('30 2 * * *'),
  /**
   * When the list period job looks for a period to build (cron, in CHAIN_TIME_ZONE), or `off`.
   * Daily after the analytics: it builds the period holding today once; reruns add nothing.
   */
  LISTS_SCHEDULE: z.string().default('30 3 * * *'),
});
export type Config = z.infer<typeof Config>;

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Parses the environment; on error returns one readable line per bad variable. */
export function parseConfig(
  env: Record<string, string | undefined>,
): { ok: true; config: Config } | { ok: false; errors: string[] } {
  const result = Config.safeParse(env);
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
  };
}
