import { Kysely } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import postgres from 'postgres';
import type { DB } from './schema.ts';

/**
 * A postgres.js client set up the way every Cadence query expects, on any runtime (Node's TCP, or
 * Workers' sockets through Hyperdrive): bigint (ids, sums) and numeric (quantities) as JS numbers;
 * dates as 'YYYY-MM-DD' text (a calendar day has no time zone: a Date would shift it). PGlite is
 * set up the same way (db/node.ts).
 */
export function postgresClient(
  url: string,
  max: number,
  /** Node's TCP socket with noDelay (db/node.ts); postgres.js's own socket otherwise. */
  extra: { socket?: (o: { host: string[]; port: number[] }) => Promise<unknown> } = {},
): postgres.Sql {
  return postgres(url, {
    ...extra,
    max,
    onnotice: () => {},
    types: {
      int8: { to: 20, from: [20], serialize: (v: unknown) => String(v), parse: Number },
      numeric: { to: 1700, from: [1700], serialize: (v: unknown) => String(v), parse: Number },
      date: { to: 1082, from: [1082], serialize: (v: unknown) => String(v), parse: (v: string) => v },
    },
    // ISO dates whatever the server's default: `::text` of a date, and the driver's date parser,
    // read what this sends (a server set to 'SQL, DMY' printed 24/11/2026)
    connection: { application_name: 'cadence', DateStyle: 'ISO, YMD', IntervalStyle: 'postgres' },
  });
}

export function postgresKysely(client: postgres.Sql): Kysely<DB> {
  return new Kysely<DB>({ dialect: new PostgresJSDialect({ postgres: client }) });
}
