import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { deferReplacements, replaceRows, swapReplaced } from '../../src/analytics/replace-rows.ts';
import type { Db } from '../../src/db/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';

const getDeps = useTestDeps();

async function indexes(db: Db, table: string) {
  const { rows } = await sql<{ def: string }>`
    select pg_get_indexdef(indexrelid) as def from pg_index where indrelid = ${table}::regclass`.execute(db);
  return rows.map((r) => r.def);
}

/** Every index and constraint of a table, as the catalog defines them. */
async function definitions(db: Db, table: string) {
  const { rows } = await sql<{ def: string }>`
    select pg_get_indexdef(indexrelid) as def from pg_index where indrelid = ${table}::regclass
    union all
    select conname || ': ' || pg_get_constraintdef(oid) from pg_constraint
    where conrelid = ${table}::regclass
    order by 1`.execute(db);
  return rows.map((r) => r.def);
}

async function insertScores(db: Db, members: number[]) {
  await sql`
    insert into member_product_scores (member_id, gtin, rank, score, predicted_date, prob, window_days, as_of)
    select m, '00000000000017', 1, 0.5, '2026-11-01', 0.25, 14, '2026-10-31T04:00:00Z'
    from unnest(${members}::bigint[]) as m`.execute(db);
}

async function memberIds(db: Db) {
  const { rows } = await sql<{ member_id: string }>`
    select member_id::text from member_product_scores order by member_id`.execute(db);
  return rows.map((r) => Number(r.member_id));
}

describe(`replaceRows on ${dbKind}`, () => {
  it('replaces the rows and rebuilds the same keys and indexes, enforced again', async () => {
    const { db } = getDeps();
    const table = 'member_product_scores';
    const before = await definitions(db, table);
    expect(before.length).toBeGreaterThanOrEqual(3); // primary key (index + constraint), rank index
    await insertScores(db, [1, 2]);

    await db.transaction().execute(async (tx) => {
      const n = await replaceRows(tx, table, async () => {
        // No index while the rows go in
        expect(await indexes(tx, table)).toEqual([]);
        await insertScores(tx, [3, 4, 5]);
        return 3;
      });
      expect(n).toBe(3);
    });

    expect(await memberIds(db)).toEqual([3, 4, 5]);
    expect(await definitions(db, table)).toEqual(before);
    await expect(insertScores(db, [4])).rejects.toThrow(/member_product_scores_pk/);
  });

  it('leaves the old rows and indexes when the transaction fails', async () => {
    const { db } = getDeps();
    const table = 'member_product_scores';
    const before = await definitions(db, table);
    const rows = await memberIds(db);

    await expect(
      db.transaction().execute(async (tx) => {
        await replaceRows(tx, table, async () => {
          await insertScores(tx, [7]);
          throw new Error('step failed');
        });
      }),
    ).rejects.toThrow('step failed');
    // A duplicate key inside the insert fails when the key is rebuilt, and rolls back too.
    await expect(
      db.transaction().execute((tx) => replaceRows(tx, table, () => insertScores(tx, [8, 8]))),
    ).rejects.toThrow(/member_product_scores_pk|duplicate/);

    expect(await memberIds(db)).toEqual(rows);
    expect(await definitions(db, table)).toEqual(before);
  });

  it('leaves the search path as it was and nothing behind in analytics_next', async () => {
    const { db } = getDeps();
    const path = async (tx: Db) =>
      (await sql<{ p: string }>`select current_setting('search_path') as p`.execute(tx)).rows[0]!.p;
    await db.transaction().execute(async (tx) => {
      const before = await path(tx);
      await replaceRows(tx, 'member_product_scores', () => insertScores(tx, [9]));
      expect(await path(tx)).toBe(before);
    });
    expect(await nextTables(db)).toEqual([]);
  });

  it('deferred: the transaction reads its new rows, others the live ones until the swap commits', async () => {
    const { db } = getDeps();
    const table = 'member_product_scores';
    const before = await definitions(db, table);
    await db.transaction().execute((tx) => replaceRows(tx, table, () => insertScores(tx, [1, 2])));

    let swapped: string[] = [];
    await db.transaction().execute(async (tx) => {
      await deferReplacements(tx);
      await replaceRows(tx, table, () => insertScores(tx, [3]));
      // replaced again in the same transaction (an evaluation replaying days): the last one counts
      await replaceRows(tx, table, () => insertScores(tx, [4, 5]));
      expect(await memberIds(tx)).toEqual([4, 5]);
      // Another session: the live rows, at once (PGlite has one session: this one)
      if (dbKind === 'postgres') expect(await memberIdsWithin(db, '2s')).toEqual([1, 2]);
      swapped = await swapReplaced(tx);
      expect(await memberIds(tx)).toEqual([4, 5]);
    });
    expect(swapped).toEqual([table]);
    expect(await memberIds(db)).toEqual([4, 5]);
    expect(await definitions(db, table)).toEqual(before);
    expect(await nextTables(db)).toEqual([]);
    await expect(insertScores(db, [4])).rejects.toThrow(/member_product_scores_pk/);
  });

  it('deferred and rolled back: the live table untouched, nothing left in analytics_next', async () => {
    const { db } = getDeps();
    const table = 'member_product_scores';
    const rows = await memberIds(db);
    const trx = await db.startTransaction().execute();
    await deferReplacements(trx);
    await replaceRows(trx, table, () => insertScores(trx, [43]));
    expect(await memberIds(trx)).toEqual([43]);
    await trx.rollback().execute();
    expect(await memberIds(db)).toEqual(rows);
    expect(await nextTables(db)).toEqual([]);
  });
});

async function nextTables(db: Db) {
  const { rows } = await sql<{ name: string }>`
    select relname as name from pg_class where relnamespace = 'analytics_next'::regnamespace`.execute(db);
  return rows.map((r) => r.name);
}

/** member_product_scores' members read in a transaction of its own that may wait for a lock at most `timeout` (lock_timeout: a slow read on a busy machine is not a wait). */
async function memberIdsWithin(db: Db, timeout: string) {
  return db.transaction().execute(async (tx) => {
    await sql`select set_config('lock_timeout', ${timeout}, true)`.execute(tx);
    return memberIds(tx);
  });
}
