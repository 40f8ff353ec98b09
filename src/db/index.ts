import { sql, type Kysely, type Transaction } from 'kysely';
import { Migrator } from 'kysely/migration';
import { migrations } from '../../migrations/index.ts';
import type { DB } from './schema.ts';

export type { DB } from './schema.ts';
export * from './schema.ts';

export type Db = Kysely<DB>;
export type Tx = Transaction<DB>;

/**
 * Bulk loading through COPY, where the driver offers it (postgres.js `COPY … FROM STDIN`,
 * PGlite `COPY … FROM '/dev/blob'`). `csv` is RFC 4180 CSV without a header.
 * Bulk paths fall back to `INSERT … SELECT FROM unnest(…)` where it is absent (Workers).
 */
export type CopyIn = (table: string, columns: readonly string[], csv: string | Uint8Array) => Promise<void>;

/**
 * A transaction on one connection, with a `copyIn` that loads into that same transaction (so it
 * can fill session-local temp tables and land together with the statements that read them).
 * The pool's `copyIn` cannot: it runs on any connection, outside the caller's transaction.
 */
export interface CopyTx {
  <T>(fn: (tx: Tx, copyIn: CopyIn) => Promise<T>): Promise<T>;
  /** The database it writes to: deps built by spreading others with another `db` must not use it. */
  readonly db: Db;
  /**
   * Whether COPY straight into a table with indexes is the fast way in. PostgreSQL: yes (a million
   * basket lines in 20,000-line transactions: 1.65 s of server CPU, 2.0 s through a temp table).
   * PGlite: no, COPY into a table with a primary key ran at half the speed of COPY into a temp
   * table plus `INSERT … SELECT` (11.7 s vs 5.3 s).
   */
  readonly copyIntoIndexed: boolean;
}

export interface Database {
  kind: 'pglite' | 'postgres';
  db: Db;
  copyIn?: CopyIn;
  copyTx?: CopyTx;
  close(): Promise<void>;
}

/** Runs `fn` in a transaction, or inside the caller's transaction when `db` already is one. */
export async function withTx<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Tx);
  return db.transaction().execute(fn);
}

export function migrator(db: Db): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
  });
}

/** Brings the schema up to date; throws with the failing migration's name. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const { error, results } = await migrator(db).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const name = failed ? ` (${failed.migrationName})` : '';
    throw new Error(`migration failed${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (results ?? []).map((r) => r.migrationName);
}

export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

/** Table names come from our code, never from input; still, refuse anything odd. */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad identifier: ${name}`);
  return `"${name}"`;
}

/**
 * A JS array as one `text[]` parameter, for set-based writes (`insert … select from unnest(…)`).
 * Values are sent as text and cast in SQL (`::int`, `::bool`): both drivers agree on text[],
 * while their inference of other array types differs.
 */
/**
 * A jsonb value for a query parameter. Sent as text and cast, so both drivers store the document
 * itself (postgres.js would JSON-encode a string parameter typed jsonb a second time).
 */
export function jsonb(value: unknown) {
  return sql<string>`${JSON.stringify(value)}::text::jsonb`;
}

/**
 * An instant given as ISO text (microseconds and offset as given), for a timestamptz. Sent as text
 * and cast in SQL: postgres.js serialises a parameter the server types timestamptz through
 * `new Date(x).toISOString()`, milliseconds only (PGlite keeps the text), so `${x}::timestamptz`
 * or a string in Kysely's `.values()` stored .123456 as .123 on PostgreSQL alone.
 */
export function timestamptz(text: string) {
  return sql<Date>`${text}::text::timestamptz`;
}

export function textArray(values: readonly (string | number | boolean | null | undefined)[]) {
  return sql`${values.map((v) => (v === null || v === undefined ? null : String(v)))}::text[]`;
}
