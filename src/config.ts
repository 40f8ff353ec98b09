import { z } from 'zod';

/**
 * Configuration, parsed once at the entry point (`node.ts`, `cli.ts`, later `worker.ts`).
 * Nothing else reads the environment.
 */
export const Config = z.object({
  // Digits only: coercion would read '' as 0 (a random port) and '0x10' as 16.
  PORT: z
    .string()
    .regex(/^\d{1,5}$/, { message: 'expected a port number, 0 to 65535' })
    .default('3000')
    .transform(Number)
    .pipe(z.number().max(65535, { message: 'expected a port number, 0 to 65535' })),
  HOST: nonEmpty('a host name or address, e.g. 127.0.0.1').default('127.0.0.1'),
  /**
   * Real PostgreSQL; when unset, the embedded PGlite database in DATA_DIR is used. Its errors never
   * repeat the value: it holds the database password.
   */
  DATABASE_URL: z
    .string()
    .refine((v) => urlWithProtocol(v, ['postgres:', 'postgresql:']), {
      message: 'expected a PostgreSQL URL, postgres://user:password@host:5432/database',
    })
    .optional(),
  DATA_DIR: nonEmpty('a folder').default('./data'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** Time zone for CSV timestamps without an offset and for new stores without one. */
  CHAIN_TIME_ZONE: z
    .string()
    .default('America/New_York')
    .refine(isTimeZone, { message: 'not an IANA time zone, e.g. America/New_York' }),
  /** Largest request body accepted, in bytes (larger bodies get 413). */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(8 * 1024 * 1024),
  /** Public base URL printed in messages (defaults to http://HOST:PORT). */
  PUBLIC_URL: z
    .string()
    .refine((v) => urlWithProtocol(v, ['http:', 'https:']), { message: 'expected an http(s) URL, e.g. https://loyalty.example.com' })
    .optional(),
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
  // Timers take at most 2^31-1 ms; beyond, Node fires them at once (a busy loop), as it does near 0.
  DEMO_LIVE_SECONDS: z.coerce
    .number()
    .min(0.1, { message: 'expected seconds between 0.1 and 2147483' })
    .max(2147483, { message: 'expected seconds between 0.1 and 2147483' })
    .default(30),
  /** The marketers' rule files (settings.yaml, traits.yaml, campaigns/). */
  RULES_DIR: nonEmpty('a folder').default('./rules'),
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
  /**
   * On SIGTERM/SIGINT the Node server stops taking requests and waits this long for a job run in
   * progress (analyse, lists) to finish; a run still going then is recorded as failed (nothing of
   * it is kept) and the server exits.
   */
  SHUTDOWN_GRACE_SECONDS: z.coerce
    .number()
    .min(0, { message: 'expected seconds between 0 and 3600' })
    .max(3600, { message: 'expected seconds between 0 and 3600' })
    .default(20),
});
export type Config = z.infer<typeof Config>;

function nonEmpty(what: string) {
  return z.string().refine((v) => v.trim() !== '', { message: `empty; expected ${what} (unset it for the default)` });
}

function urlWithProtocol(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

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
