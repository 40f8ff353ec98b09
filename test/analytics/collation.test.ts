import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { topAssociations } from '../../src/analytics/associations.ts';
import { databaseUrl, useTestDeps } from '../support/db.ts';

const getDeps = useTestDeps();

// PGlite's collation is C; a PostgreSQL created with a language collation orders ids otherwise
// (ICU's en puts baby_food before baby-wipes, bytes put '-' before '_'). Ties are broken in bytes.
describe.skipIf(!databaseUrl)('id tie-breaks under a language collation', () => {
  it('lists associations of equal lift and support in byte order of their ids', async () => {
    const db = getDeps().db;
    await sql`alter table category_associations alter column antecedent_id type text collate "en-x-icu",
      alter column consequent_id type text collate "en-x-icu"`.execute(db);
    expect((await sql<{ icu: boolean }>`select 'baby_food' < 'baby-wipes' collate "en-x-icu" as icu`.execute(db)).rows[0]!.icu).toBe(true);
    await db.insertInto('category_associations').values(
      ['baby_food', 'baby-wipes', 'baby.oil'].map((id) => ({ antecedent_id: id, consequent_id: 'milk', baskets: 20, support: 0.1, confidence: 0.5, lift: 2 })),
    ).execute();
    const { associations } = await topAssociations(db);
    expect(associations.map((a) => a.antecedentId)).toEqual(['baby-wipes', 'baby.oil', 'baby_food']);
  });
});
