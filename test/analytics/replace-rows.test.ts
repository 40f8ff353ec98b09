import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { replaceRows } from '../../src/analytics/replace-rows.ts';
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
});
