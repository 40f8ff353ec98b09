import { type Kysely } from 'kysely';

/**
 * Closed-loop simulation (issue 8): how far `cadence sim run` has driven the loaded chain forward
 * through the API. Null until the first simulated day.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sim_runs').addColumn('simulated_through', 'date').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sim_runs').dropColumn('simulated_through').execute();
}
