import { sql, type Kysely } from 'kysely';

/**
 * Which member held which card, and when. members.card_number is the card's holder now; a card
 * re-issued to another member leaves a closed row (`to_at`) for its earlier holder, so a POS retry
 * of a basket posted before the move can still be matched to the member it was stored for
 * (src/ingest/write-baskets.ts, step 6).
 *
 * Periods of one card do not overlap: `from_at <= instant < to_at` (open when `to_at` is null).
 * The first holder of a card holds it from '-infinity': baskets imported from history are older
 * than the member row their card created. Backfilled the same way from the current cards (the
 * earlier holders of a card moved before this migration are unknown, so a retry naming them stays
 * a conflict, as it was).
 *
 * member_id leads the key (distribution by member, see DESIGN.md); no foreign key to members, for
 * the reason of 20261125_08 (members are never deleted; ingest inserts both in one statement).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('member_cards')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('card_number', 'text', (c) => c.notNull())
    .addColumn('from_at', 'timestamptz', (c) => c.notNull())
    .addColumn('to_at', 'timestamptz')
    .addPrimaryKeyConstraint('member_cards_pkey', ['member_id', 'card_number', 'from_at'])
    .addCheckConstraint('member_cards_period', sql`to_at is null or to_at >= from_at`)
    .execute();
  await db.schema.createIndex('member_cards_card_idx').on('member_cards').columns(['card_number', 'from_at']).execute();
  await sql`
    insert into member_cards (member_id, card_number, from_at)
    select id, card_number, '-infinity' from members where card_number is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('member_cards').execute();
}
