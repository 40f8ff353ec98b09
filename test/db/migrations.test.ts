import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateToLatest, migrator } from '../../src/db/index.ts';
import { migrations } from '../../migrations/index.ts';
import { dbKind, freshDatabase } from '../support/db.ts';

const tables = [
  'analytics_snapshots', 'api_keys', 'basket_lines', 'baskets', 'campaign_terms', 'categories',
  'category_associations', 'checkout_commits', 'cycle_priors', 'job_runs',
  'list_periods', 'lists', 'manufacturers', 'member_cards', 'member_category_cells', 'member_category_cycles',
  'member_contacts', 'member_product_backtest', 'member_product_cycles', 'member_product_scores',
  'member_scores', 'member_traits', 'members', 'offer_redemptions', 'offer_reservations', 'offers',
  'prediction_calibration', 'products', 'redemption_conflicts', 'returned_units', 'sim_member_category_truth',
  'sim_member_product_truth', 'sim_member_truth', 'sim_runs', 'stores', 'terminals',
];

describe(`migrations on ${dbKind}`, async () => {
  const database = await freshDatabase();
  afterAll(() => database.dispose());

  async function userTables() {
    const r = await sql<{ table_name: string }>`select table_name from information_schema.tables
      where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(database.db);
    return r.rows.map((x) => x.table_name);
  }

  async function schemas() {
    const r = await sql<{ name: string }>`select nspname as name from pg_namespace
      where nspname = 'analytics_next'`.execute(database.db);
    return r.rows.map((x) => x.name);
  }

  it('brings an empty database up to the latest schema, and again is a no-op', async () => {
    expect(await userTables()).toEqual(tables);
    expect(await migrateToLatest(database.db)).toEqual([]);
  });

  it('leads every member-scoped primary key with member_id', async () => {
    const r = await sql<{ table_name: string; first: string }>`
      select tc.table_name, kcu.column_name as first
      from information_schema.table_constraints tc
      join information_schema.key_column_usage kcu
        on kcu.constraint_name = tc.constraint_name and kcu.ordinal_position = 1
      where tc.constraint_type = 'PRIMARY KEY' and tc.table_schema = 'public'
        and exists (select 1 from information_schema.columns c
                    where c.table_name = tc.table_name and c.column_name = 'member_id')`.execute(database.db);
    expect(r.rows.length).toBeGreaterThanOrEqual(3);
    for (const row of r.rows) expect(row.first, row.table_name).toBe('member_id');
  });

  it('migrates all the way down and up again', async () => {
    const m = migrator(database.db);
    for (let i = 0; i < Object.keys(migrations).length; i++) {
      const { error } = await m.migrateDown();
      expect(error).toBeUndefined();
    }
    expect(await userTables()).toEqual([]);
    expect(await schemas()).toEqual([]);
    expect(await migrateToLatest(database.db)).toEqual(Object.keys(migrations));
    expect(await userTables()).toEqual(tables);
    // where the analyse job builds the tables it replaces (src/analytics/replace-rows.ts)
    expect(await schemas()).toEqual(['analytics_next']);
  });
});
