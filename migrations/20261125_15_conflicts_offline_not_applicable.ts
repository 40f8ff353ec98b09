import { sql, type Kysely } from 'kysely';

/**
 * An offer a lane applied offline that does not apply to the basket it posted (below the minimum
 * spend or quantity, or none of its products) is a reconciliation conflict too: the customer got a
 * discount the offer does not give. Before, it showed only in the commit's `notApplied`.
 */
const OLD = ['already_used', 'expired', 'not_yet_valid', 'voided', 'unknown_offer', 'other_member'];
const NEW = [...OLD, 'below_min_spend', 'below_min_qty', 'wrong_product'];

async function allow(db: Kysely<any>, reasons: string[]): Promise<void> {
  await sql`alter table redemption_conflicts drop constraint redemption_conflicts_reason_check`.execute(db);
  await sql`alter table redemption_conflicts add constraint redemption_conflicts_reason_check
    check (reason in (${sql.join(reasons.map((r) => sql.lit(r)))}))`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  await allow(db, NEW);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from redemption_conflicts where reason in ('below_min_spend', 'below_min_qty', 'wrong_product')`.execute(db);
  await allow(db, OLD);
}
