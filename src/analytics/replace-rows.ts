import { sql } from 'kysely';
import type { Db } from '../db/index.ts';

/**
 * Tables replaced whole (the nightly analytics) are built as new tables beside the live ones, in
 * the schema `analytics_next` (migration 11), and moved into place afterwards: the live table is
 * dropped and the new one moved into its schema under the same name, with the same constraints and
 * indexes, in the same transaction.
 *
 * Why not `truncate` and insert: truncate takes the table's exclusive lock until commit, so every
 * reader (a marketer's profile page, the cells matrix) waited for the rest of the transaction,
 * which for the analyse job is the rest of the job: minutes to hours for a large chain, each
 * waiting request holding a pooled connection meanwhile. `delete` and insert lets readers read the
 * previous rows, but every insert's unique check then visits the deleted row with the same key
 * (2–3× slower, 1.4 s against 0.6 s for 176k rows on PostgreSQL 15) and leaves a table's worth of
 * dead rows behind each night. A new table has neither cost, and its indexes are built once, from
 * the finished table (one sort, pages written bottom-up, about a third less than inserting into
 * them), and readers of the live table wait only for the move, milliseconds.
 *
 * Two modes:
 * - immediate (default): replaceRows moves the table into place at once; the live table's
 *   exclusive lock is then held until the caller's transaction ends, as truncate's was.
 * - deferred (`deferReplacements(tx)` first, the analyse job): the new tables stay in
 *   `analytics_next` until `swapReplaced(tx)`, which the job runs once every step has succeeded;
 *   meanwhile this transaction's unqualified names resolve to them first (its search_path starts
 *   with `analytics_next`), so later steps read what earlier ones wrote, and other sessions keep
 *   reading the live tables. A transaction rolled back before the swap (a failed job, an
 *   evaluation) never touches the live tables at all.
 *
 * The new table copies the live one's columns, defaults, CHECK constraints (by `like`) and then its
 * primary key, unique constraints and indexes, each from its definition as the catalog holds it
 * (so the migrations stay the only place that defines them), under the same names. Not carried
 * over: grants, triggers, comments on indexes, and tables that others reference by foreign key or
 * whose key a view relies on cannot be dropped (the drop fails, loudly); the analytics tables have
 * none of these.
 */
export async function replaceRows<T>(tx: Db, table: string, insert: () => Promise<T>): Promise<T> {
  const deferred = await isDeferred(tx);
  const previousPath = deferred ? null : await deferReplacements(tx);
  const live = await liveTable(tx, table);
  const { rows: constraints } = await sql<{ name: string; def: string }>`
    select conname as name, pg_get_constraintdef(oid) as def
    from pg_constraint
    where conrelid = ${live.oid} and contype in ('p', 'u', 'x')
    order by conname`.execute(tx);
  const { rows: indexes } = await sql<{ def: string }>`
    select pg_get_indexdef(i.indexrelid) as def
    from pg_index i
    where i.indrelid = ${live.oid}
      and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
    order by i.indexrelid::regclass::text`.execute(tx);
  const next = sql.table(`${NEXT_SCHEMA}.${table}`);
  // A table this transaction replaced before (an evaluation replaying days) is replaced again.
  await sql`drop table if exists ${next}`.execute(tx);
  await sql`create table ${next} (like ${sql.table(`${live.schema}.${table}`)}
    including defaults including constraints including generated including storage including comments)`.execute(tx);
  const result = await insert();
  for (const c of constraints) {
    await sql`alter table ${next} add constraint ${sql.ref(c.name)} ${sql.raw(c.def)}`.execute(tx);
  }
  for (const i of indexes) await sql.raw(onNext(i.def, table)).execute(tx);
  if (previousPath !== null) {
    await moveIntoPlace(tx, table, live);
    await sql`select set_config('search_path', ${previousPath}, true)`.execute(tx);
  }
  return result;
}

/** The schema replacement tables are built in (migration 11). */
export const NEXT_SCHEMA = 'analytics_next';

/**
 * Defers the moves of tables replaceRows builds in this transaction to `swapReplaced`, and makes
 * the transaction read them first. Returns the search_path it had.
 */
export async function deferReplacements(tx: Db): Promise<string> {
  const { rows } = await sql<{ before: string }>`
    select current_setting('search_path') as before,
      set_config('search_path', ${NEXT_SCHEMA} || ', ' || current_setting('search_path'), true)`.execute(tx);
  return rows[0]!.before;
}

/**
 * Moves every table this transaction built in `analytics_next` into place (in name order: one
 * lock order for every caller), returning their names. Each drop waits for the live table's
 * readers to finish, for as long as the transaction's lock_timeout allows.
 */
export async function swapReplaced(tx: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select relname as name from pg_class
    where relnamespace = ${NEXT_SCHEMA}::regnamespace and relkind = 'r'
    order by relname`.execute(tx);
  for (const { name } of rows) await moveIntoPlace(tx, name);
  return rows.map((r) => r.name);
}

async function isDeferred(tx: Db): Promise<boolean> {
  const { rows } = await sql<{ deferred: boolean }>`
    select coalesce((current_schemas(false))[1] = ${NEXT_SCHEMA}, false) as deferred`.execute(tx);
  return rows[0]!.deferred;
}

/** The table named `table` that the search path finds outside `analytics_next`. */
async function liveTable(tx: Db, table: string): Promise<{ oid: number; schema: string }> {
  const { rows } = await sql<{ oid: number; schema: string }>`
    select c.oid::int8 as oid, s.name as schema
    from unnest(current_schemas(false)) with ordinality as s(name, pos)
    join pg_namespace n on n.nspname = s.name
    join pg_class c on c.relnamespace = n.oid and c.relname = ${table} and c.relkind = 'r'
    where s.name <> ${NEXT_SCHEMA}
    order by s.pos
    limit 1`.execute(tx);
  if (!rows[0]) throw new Error(`relation "${table}" does not exist`);
  return { oid: Number(rows[0].oid), schema: rows[0].schema };
}

async function moveIntoPlace(tx: Db, table: string, live?: { schema: string }): Promise<void> {
  live ??= await liveTable(tx, table);
  await sql`drop table ${sql.table(`${live.schema}.${table}`)}`.execute(tx);
  await sql`alter table ${sql.table(`${NEXT_SCHEMA}.${table}`)} set schema ${sql.id(live.schema)}`.execute(tx);
}

/** `create index … on <live table> …` made to build the same index on the new table. */
function onNext(def: string, table: string): string {
  const m = /^(CREATE (?:UNIQUE )?INDEX \S+ ON )(?:ONLY )?\S+( USING .*)$/s.exec(def);
  if (!m) throw new Error(`cannot rebuild index: ${def}`);
  return `${m[1]}${NEXT_SCHEMA}.${table}${m[2]}`;
}
