import { sql } from 'kysely';
import type { Db } from '../db/index.ts';
import { localDate } from '../lib/time.ts';
import { resolveMember, type Identity } from './service.ts';

export interface LiveOfferView {
  offerId: number;
  campaignId: string;
  name: string;
  kind: string;
  value: number;
  minQty: number;
  maxUnits: number | null;
  minSpendCents: number;
  gtins: string[];
  validFrom: string;
  validTo: string;
  usesLeft: number;
}

interface OfferRow {
  id: number;
  campaign_id: string;
  name: string;
  kind: string;
  value: number;
  min_qty: number;
  max_units: number | null;
  min_spend_cents: number;
  gtins: string[];
  valid_from: string;
  valid_to: string;
  uses_left: number;
  list_id: number | null;
  member_number: string | null;
  card_number: string | null;
  status: string;
}

const columns = sql`o.id, o.campaign_id, t.name, o.kind, o.value::float8 as value, o.min_qty, o.max_units, o.min_spend_cents, t.gtins,
  o.valid_from::text as valid_from, o.valid_to::text as valid_to, (o.uses_allowed - o.uses) as uses_left,
  o.list_id, m.member_number, m.card_number, o.status`;

function view(r: OfferRow): LiveOfferView {
  return {
    offerId: r.id, campaignId: r.campaign_id, name: r.name, kind: r.kind, value: r.value, minQty: r.min_qty,
    maxUnits: r.max_units, minSpendCents: r.min_spend_cents, gtins: r.gtins, validFrom: r.valid_from, validTo: r.valid_to, usesLeft: r.uses_left,
  };
}

/** The member behind a scan, their current list and the offers they can still use from `day` on. */
export async function identify(db: Db, identity: Identity, at: Date, timeZone: string) {
  const member = await resolveMember(db, identity);
  const day = localDate(at, timeZone);
  const list = await db
    .selectFrom('lists')
    .select('id')
    .where('member_id', '=', member.id)
    .where('voided_at', 'is', null)
    .where('period_start', '<=', day)
    .where('period_end', '>=', day)
    .orderBy('period_start', 'desc')
    .limit(1)
    .executeTakeFirst();
  const { rows } = await sql<OfferRow>`
    select ${columns}
    from offers o join campaign_terms t on t.campaign_id = o.campaign_id and t.rule_hash = o.rule_hash
    join members m on m.id = o.member_id
    where o.member_id = ${member.id} and o.status = 'live' and not o.control and o.uses < o.uses_allowed
      and o.valid_to >= ${day}::date
    order by o.id`.execute(db);
  return {
    memberNumber: member.memberNumber,
    cardNumber: member.cardNumber,
    listId: list?.id ?? null,
    offers: rows.map(view),
  };
}

/** Which offers a file holds beyond the live ones: none, or those changed after a point. */
export type OfferFileChanges = { since: Date } | { cursor: string } | null;

/**
 * Every offer of the store's members (home store, or the store their list was printed for) that
 * can still be used from `day` on — or, with `since` or `cursor`, every offer of theirs that
 * changed after it, voided and used-up ones included so an offline POS can drop them, and every
 * offer of a member who changed after it (a card re-issued or a new home store changes no offer,
 * yet the lane needs the offer under its new card, or at its new store).
 *
 * `cursor` is what every file returns for the next request: the oldest transaction still running
 * when it was read (snapshot xmin). A change the file could not see was made by that transaction
 * or a later one, so `changed_xid >= cursor` finds it, whatever the writers' clocks and however
 * long they ran (see migrations/20261125_14_offer_file_cursor.ts). Taken before the read, it can
 * only be older than the read's own, which re-sends a few offers and never misses one. `since`
 * compares the instants rows were stamped with, when their transaction started: a list job that
 * commits minutes after its start is missed by a lane that read in between.
 */
export async function offerFile(db: Db, storeId: number, day: string, changes: OfferFileChanges) {
  const { rows: snap } = await sql<{ cursor: string }>`
    select pg_snapshot_xmin(pg_current_snapshot())::text as cursor`.execute(db);
  const changed =
    changes === null
      ? sql`o.status = 'live' and o.uses < o.uses_allowed`
      : 'since' in changes
        ? sql`(o.updated_at > ${changes.since.toISOString()}::timestamptz or m.updated_at > ${changes.since.toISOString()}::timestamptz)`
        : sql`(o.changed_xid >= ${changes.cursor}::xid8 or m.changed_xid >= ${changes.cursor}::xid8)`;
  const { rows } = await sql<OfferRow>`
    select ${columns}
    from offers o join campaign_terms t on t.campaign_id = o.campaign_id and t.rule_hash = o.rule_hash
    join members m on m.id = o.member_id
    left join lists l on l.member_id = o.member_id and l.id = o.list_id
    where not o.control and o.valid_to >= ${day}::date
      and (m.home_store_id = ${storeId} or l.store_id = ${storeId})
      and ${changed}
    order by o.id`.execute(db);
  return {
    cursor: snap[0]!.cursor,
    offers: rows.map((r) => ({
      ...view(r),
      memberNumber: r.member_number,
      cardNumber: r.card_number,
      listId: r.list_id,
      status: r.status === 'live' && r.uses_left <= 0 ? 'used' : r.status,
    })),
  };
}

/** Offline redemptions that could not count, for the store's reconciliation. */
export async function reconciliation(db: Db, storeId: number) {
  const { rows } = await sql<{
    terminal_id: string; txn_id: string; offer_id: number; member_number: string | null;
    reason: string; discount_cents: number; ts: Date;
  }>`
    select c.terminal_id, c.txn_id, c.offer_id, m.member_number, c.reason, c.discount_cents, c.ts
    from redemption_conflicts c left join members m on m.id = c.member_id
    where c.store_id = ${storeId}
    order by c.ts, c.terminal_id, c.txn_id, c.offer_id`.execute(db);
  return rows.map((r) => ({
    terminalId: r.terminal_id, txnId: r.txn_id, offerId: r.offer_id, memberNumber: r.member_number,
    reason: r.reason, discountCents: r.discount_cents, ts: new Date(r.ts).toISOString(),
  }));
}
