import { sql } from 'kysely';
import { textArray, timestamptz, withTx, type Db } from '../db/index.ts';
import { decodeCursor, encodeCursor } from '../lib/cursor.ts';
import { ValidationError } from '../lib/errors.ts';
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
/** `since`: an ISO instant with offset, compared as given (to the microsecond). */
export type OfferFileChanges = { since: string } | { cursor: string } | null;

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
        ? sql`(o.updated_at > ${timestamptz(changes.since)} or m.updated_at > ${timestamptz(changes.since)})`
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

export type ReconciliationStatus = 'open' | 'acknowledged' | 'all';

/**
 * Offline redemptions that could not count, for the store's reconciliation: a page in time order
 * (then terminal, txn and offer, in byte order: the same on every database), the conflicts after
 * `after` (a cursor from the page before), and the store's open total across all pages.
 */
export async function reconciliation(
  db: Db,
  storeId: number,
  page: { status: ReconciliationStatus; limit: number; after?: string | undefined },
) {
  let after = sql``;
  if (page.after !== undefined) {
    const key = decodeCursor(page.after);
    if (!key || key.length !== 4 || typeof key[0] !== 'string' || !UTC_MICROS.test(key[0]) || typeof key[1] !== 'string' ||
      typeof key[2] !== 'string' || !Number.isSafeInteger(key[3])) {
      throw new ValidationError('not a reconciliation cursor', [{ path: 'after', message: 'expected the nextCursor of an earlier page' }]);
    }
    after = sql`and (c.ts, c.terminal_id collate "C", c.txn_id collate "C", c.offer_id)
      > (${timestamptz(key[0])}, ${key[1]}, ${key[2]}, ${key[3] as number})`;
  }
  const status = page.status === 'open' ? sql`and c.acknowledged_at is null`
    : page.status === 'acknowledged' ? sql`and c.acknowledged_at is not null` : sql``;
  const { rows } = await sql<{
    terminal_id: string; txn_id: string; offer_id: number; member_number: string | null;
    reason: string; discount_cents: number; ts_key: string; acknowledged_at: Date | null;
  }>`
    select c.terminal_id, c.txn_id, c.offer_id, m.member_number, c.reason, c.discount_cents,
      to_char(c.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts_key, c.acknowledged_at
    from redemption_conflicts c left join members m on m.id = c.member_id
    where c.store_id = ${storeId} ${status} ${after}
    order by c.ts, c.terminal_id collate "C", c.txn_id collate "C", c.offer_id
    limit ${page.limit + 1}`.execute(db);
  const more = rows.length > page.limit;
  const shown = more ? rows.slice(0, page.limit) : rows;
  const last = shown[shown.length - 1];
  const totals = (await sql<{ conflicts: string | number; discount_cents: string | number }>`
    select count(*) as conflicts, coalesce(sum(discount_cents), 0) as discount_cents
    from redemption_conflicts where store_id = ${storeId} and acknowledged_at is null`.execute(db)).rows[0]!;
  return {
    open: { conflicts: Number(totals.conflicts), discountCents: Number(totals.discount_cents) },
    conflicts: shown.map((r) => ({
      terminalId: r.terminal_id, txnId: r.txn_id, offerId: Number(r.offer_id), memberNumber: r.member_number,
      reason: r.reason, discountCents: r.discount_cents, ts: isoFromUtcMicros(r.ts_key),
      acknowledgedAt: r.acknowledged_at ? new Date(r.acknowledged_at).toISOString() : null,
    })),
    nextCursor: more && last ? encodeCursor([last.ts_key, last.terminal_id, last.txn_id, Number(last.offer_id)]) : null,
  };
}

const UTC_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * The instant a POS sent, as stored (`…SS.ffffffZ`), written as toISOString writes one of whole
 * milliseconds (`…SS.fffZ`, as before) and with all six decimals otherwise: a Date dropped them.
 */
function isoFromUtcMicros(key: string): string {
  return key.endsWith('000Z') ? `${key.slice(0, -4)}Z` : key;
}

/**
 * Marks conflicts of a store as dealt with (when, and by which API key). All or nothing: a key
 * that names no conflict of this store is a 422 naming it, and nothing is marked. Conflicts
 * acknowledged before keep their first acknowledgement (a retry changes nothing).
 */
export async function acknowledgeConflicts(
  db: Db,
  storeId: number,
  by: number,
  at: Date,
  keys: ReadonlyArray<{ terminalId: string; txnId: string; offerId: number }>,
): Promise<{ acknowledged: number; alreadyAcknowledged: number }> {
  return withTx(db, async (tx) => {
    const { rows } = await sql<{ i: string | number; found: boolean; acknowledged: boolean }>`
      select k.i, count(c.offer_id) > 0 as found, bool_and(c.acknowledged_at is not null) as acknowledged
      from unnest(${textArray(keys.map((k) => k.terminalId))}::text[], ${textArray(keys.map((k) => k.txnId))}::text[],
                  ${textArray(keys.map((k) => k.offerId))}::bigint[]) with ordinality as k(terminal_id, txn_id, offer_id, i)
      left join redemption_conflicts c
        on c.store_id = ${storeId} and c.terminal_id = k.terminal_id and c.txn_id = k.txn_id and c.offer_id = k.offer_id
      group by k.i order by k.i`.execute(tx);
    const missing = rows.filter((r) => !r.found).map((r) => Number(r.i) - 1);
    if (missing.length > 0) {
      throw new ValidationError('no such conflict at this store', missing.slice(0, 20).map((i) => ({
        path: `conflicts[${i}]`, message: `store ${storeId} has no conflict of terminal ${keys[i]!.terminalId}, txn ${keys[i]!.txnId}, offer ${keys[i]!.offerId}`,
      })));
    }
    const updated = await sql`
      update redemption_conflicts c set acknowledged_at = ${at.toISOString()}::timestamptz, acknowledged_by = ${by}
      from unnest(${textArray(keys.map((k) => k.terminalId))}::text[], ${textArray(keys.map((k) => k.txnId))}::text[],
                  ${textArray(keys.map((k) => k.offerId))}::bigint[]) as k(terminal_id, txn_id, offer_id)
      where c.store_id = ${storeId} and c.terminal_id = k.terminal_id and c.txn_id = k.txn_id and c.offer_id = k.offer_id
        and c.acknowledged_at is null`.execute(tx);
    const acknowledged = Number(updated.numAffectedRows ?? 0);
    const distinct = new Set(keys.map((k) => `${k.terminalId}\u0000${k.txnId}\u0000${k.offerId}`)).size;
    return { acknowledged, alreadyAcknowledged: distinct - acknowledged };
  });
}
