import { sql } from 'kysely';
import type { Db } from '../db/index.ts';
import { jsonb, timestamptz, withTx } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import { ingestBaskets, retryOnDeadlock, type BasketInput } from '../ingest/ingest-baskets.ts';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { sha256Hex } from '../lib/hash.ts';
import { lineAmountCents } from '../lib/money.ts';
import { localDate } from '../lib/time.ts';
import type { ConflictReason, OfferKind } from '../db/schema.ts';
import { applyOffer, lineAmount, type QuoteLine } from './discount.ts';

/**
 * Checkout: identify → quote → commit, and voids / returns. See migrations/20261124_06_checkout.ts
 * for what the database guarantees; here:
 * - commit runs in one transaction, serialized per (store, terminal, txn) by an advisory lock; a
 *   retry with the same request replays the stored response, another request under the same key
 *   is a 409;
 * - the member's offers are read FOR UPDATE and each redemption increments uses with a guarded
 *   UPDATE, so concurrent lanes can never redeem an offer past its limit;
 * - the basket goes through ingestBaskets (the POST /v1/baskets path) with the offer discounts in
 *   its line discounts, so history and the next list see it.
 */

export type Identity =
  | { cardNumber: string }
  | { memberNumber: string }
  | { listId: number }
  | { offerId: number };

export interface CheckoutLine {
  gtin: string;
  qty: number;
  unitPriceCents: number;
  /** Discounts the POS gave itself (its own promotions), before Cadence's offers. */
  lineDiscountCents?: number;
}

export type NotAppliedReason =
  | 'wrong_product'
  | 'below_min_qty'
  | 'below_min_spend'
  | 'expired'
  | 'not_yet_valid'
  | 'already_used'
  | 'reserved';

export interface AppliedOffer {
  offerId: number;
  campaignId: string;
  name: string;
  kind: OfferKind;
  discountCents: number;
  /** Per basket line (index into the request's lines). */
  allocations: Array<{ line: number; cents: number }>;
}

export interface QuoteResult {
  memberNumber: string | null;
  applied: AppliedOffer[];
  notApplied: Array<{ offerId: number; campaignId: string; reason: NotAppliedReason }>;
  subtotalCents: number;
  discountCents: number;
  totalCents: number;
  /** Until when the applied single-use offers are held for this transaction (quote only). */
  reservedUntil: string | null;
}

export interface SaleRequest {
  storeId: number;
  terminalId: string;
  txnId: string;
  /** ISO instant with offset: when the sale happened (offline sales keep their time). */
  ts: string;
  identity: Identity | null;
  lines: CheckoutLine[];
  /** Posted after the fact by a POS that redeemed from its offer file while offline. */
  offline?: boolean;
  /** Offline: the offers the POS applied. Online: ignored (the server decides). */
  offerIds?: number[];
  /**
   * Offline: what the lane gave per offer of offerIds (each at most once). A conflict records it;
   * for an offer without one, the amount Cadence computes on the basket (0 if it does not apply).
   */
  offlineDiscounts?: Array<{ offerId: number; discountCents: number }>;
}

export interface CommitResult extends QuoteResult {
  basketId: number;
  /** Offline redemptions that could not count (also in the store's reconciliation list). */
  conflicts: Array<{ offerId: number; reason: ConflictReason; discountCents: number }>;
  replayed: boolean;
}

export const RESERVATION_TTL_SECONDS = 120;

type CheckoutDeps = Pick<Deps, 'db' | 'clock'>;

interface LiveOffer {
  id: number;
  member_id: number;
  campaign_id: string;
  name: string;
  kind: OfferKind;
  value: number;
  min_qty: number;
  max_units: number | null;
  min_spend_cents: number;
  valid_from: string;
  valid_to: string;
  uses: number;
  uses_allowed: number;
  gtins: string[];
  reserved_by_other: boolean;
  /** The campaign's limit of redemptions per member over all its offers (null: none). */
  per_member_total: number | null;
  /** Redemptions of the campaign by the member so far, over all its offers. */
  campaign_uses: number;
}

/** The member behind a scanned identity; NotFoundError naming the field otherwise. */
export async function resolveMember(
  db: Db,
  identity: Identity,
): Promise<{ id: number; memberNumber: string | null; cardNumber: string | null }> {
  let q = db.selectFrom('members').select(['members.id', 'member_number', 'card_number']).where('members.id', '<>', 0);
  let field: string;
  if ('cardNumber' in identity) {
    q = q.where('card_number', '=', identity.cardNumber);
    field = 'identity.cardNumber';
  } else if ('memberNumber' in identity) {
    q = q.where('member_number', '=', identity.memberNumber);
    field = 'identity.memberNumber';
  } else if ('listId' in identity) {
    // A voided list too (a regenerated period's): the member still holds it printed, and what
    // applies comes from their live offers, not from the list.
    q = q.where('members.id', '=', (eb) =>
      eb.selectFrom('lists').select('lists.member_id').where('lists.id', '=', identity.listId),
    );
    field = 'identity.listId';
  } else {
    q = q.where('members.id', '=', (eb) =>
      eb.selectFrom('offers').select('offers.member_id').where('offers.id', '=', identity.offerId).where('control', '=', false),
    );
    field = 'identity.offerId';
  }
  const row = await q.executeTakeFirst();
  if (!row) throw new NotFoundError('no member for this identity', [{ path: field, message: 'not known' }]);
  return { id: row.id, memberNumber: row.member_number, cardNumber: row.card_number };
}

/**
 * The member of a sale, and how its basket names them. A card not seen yet (issued at the store,
 * registered later) is no error: the sale gets no offers and its basket, ingested under the card,
 * makes the unregistered member as POST /v1/baskets does, so the card's history starts here.
 */
async function saleMember(
  db: Db,
  identity: Identity | null,
): Promise<{ member: Awaited<ReturnType<typeof resolveMember>> | null; ref: BasketInput['member'] }> {
  if (!identity) return { member: null, ref: null };
  try {
    const member = await resolveMember(db, identity);
    return { member, ref: memberRef(member) };
  } catch (e) {
    if (e instanceof NotFoundError && 'cardNumber' in identity) {
      return { member: null, ref: { kind: 'card', ref: identity.cardNumber } };
    }
    throw e;
  }
}

/** A store's time zone, or null when there is no such store. */
export async function storeTimeZone(db: Db, storeId: number): Promise<string | null> {
  const s = await db.selectFrom('stores').select('time_zone').where('id', '=', storeId).executeTakeFirst();
  return s?.time_zone ?? null;
}

/** The zone of the store a request names in its body (422 when unknown). */
async function storeZone(db: Db, storeId: number): Promise<string> {
  const zone = await storeTimeZone(db, storeId);
  if (!zone) throw new ValidationError('unknown store', [{ path: 'storeId', message: `unknown store ${storeId}` }]);
  return zone;
}

/** An offer with the terms it was issued under (`o` offers, `t` campaign_terms). */
const offerColumns = sql`o.id, o.member_id, o.campaign_id, t.name, o.kind, o.value::float8 as value, o.min_qty,
  o.max_units, o.min_spend_cents, o.valid_from::text as valid_from, o.valid_to::text as valid_to, o.uses,
  o.uses_allowed, t.gtins, (t.spec->'limits'->>'perMemberTotal')::int as per_member_total,
  (select coalesce(sum(x.uses), 0) from offers x where x.member_id = o.member_id and x.campaign_id = o.campaign_id)::int
    as campaign_uses`;

async function liveOffers(
  db: Db,
  memberId: number,
  key: { storeId: number; terminalId: string; txnId: string },
  now: Date,
  lock: boolean,
): Promise<LiveOffer[]> {
  // Lock first, then read in a statement of its own: it sees what a lane that held the locks
  // committed, in the campaign's use count too (a subquery of the locking statement would not).
  if (lock) {
    await sql`select o.id from offers o where o.member_id = ${memberId} and o.status = 'live' and not o.control
      order by o.id for update`.execute(db);
  }
  const { rows } = await sql<LiveOffer>`
    select ${offerColumns},
      exists (select 1 from offer_reservations r where r.offer_id = o.id and r.expires_at > ${now.toISOString()}::timestamptz
              and (r.store_id, r.terminal_id, r.txn_id) <> (${key.storeId}, ${key.terminalId}, ${key.txnId})) as reserved_by_other
    from offers o
    join campaign_terms t on t.campaign_id = o.campaign_id and t.rule_hash = o.rule_hash
    where o.member_id = ${memberId} and o.status = 'live' and not o.control
    order by o.id`.execute(db);
  return rows;
}

/**
 * Which offers apply to `lines` on `day` (store-local), in offer order, each on what the earlier
 * ones left of the lines. `ignoreReservations`: offline sales already happened.
 */
function evaluate(
  offers: readonly LiveOffer[],
  lines: readonly QuoteLine[],
  day: string,
  opts: { ignoreReservations: boolean; only?: ReadonlySet<number> },
): Pick<QuoteResult, 'applied' | 'notApplied'> {
  const taken = lines.map(() => 0);
  const applied: AppliedOffer[] = [];
  const notApplied: QuoteResult['notApplied'] = [];
  const campaignUses = new CampaignUses();
  for (const o of offers) {
    if (opts.only && !opts.only.has(o.id)) continue;
    const no = (reason: NotAppliedReason) => notApplied.push({ offerId: o.id, campaignId: o.campaign_id, reason });
    if (day < o.valid_from) { no('not_yet_valid'); continue; }
    if (day > o.valid_to) { no('expired'); continue; }
    if (o.uses >= o.uses_allowed || campaignUses.spent(o)) { no('already_used'); continue; }
    if (o.reserved_by_other && !opts.ignoreReservations) { no('reserved'); continue; }
    const r = applyOffer(
      { kind: o.kind, value: o.value, minQty: o.min_qty, maxUnits: o.max_units, gtins: new Set(o.gtins), minSpendCents: o.min_spend_cents },
      lines,
      taken,
    );
    if ('reason' in r) { no(r.reason); continue; }
    if (r.discountCents === 0) { no('wrong_product'); continue; }
    for (const a of r.allocations) taken[a.line]! += a.cents;
    campaignUses.use(o);
    applied.push({
      offerId: o.id, campaignId: o.campaign_id, name: o.name, kind: o.kind,
      discountCents: r.discountCents, allocations: r.allocations,
    });
  }
  return { applied, notApplied };
}

/**
 * A campaign's per-member total over its offers: an offer of an earlier period still valid and one
 * of this period each had a use left, and both were redeemed (in one basket, or two).
 */
class CampaignUses {
  private readonly extra = new Map<string, number>();
  /** True when the member has used the offer's campaign as often as it allows. */
  spent(o: LiveOffer): boolean {
    return o.per_member_total !== null && o.campaign_uses + (this.extra.get(o.campaign_id) ?? 0) >= o.per_member_total;
  }
  use(o: LiveOffer): void {
    this.extra.set(o.campaign_id, (this.extra.get(o.campaign_id) ?? 0) + 1);
  }
}

function netLines(lines: readonly CheckoutLine[]): QuoteLine[] {
  // Offers apply to what the customer pays after the POS's own discounts.
  return lines.map((l) => ({
    gtin: l.gtin,
    qty: l.qty,
    unitPriceCents: l.qty > 0 ? (lineAmount(l) - (l.lineDiscountCents ?? 0)) / l.qty : l.unitPriceCents,
  }));
}

function totals(lines: readonly CheckoutLine[], applied: readonly AppliedOffer[]) {
  const subtotalCents = lines.reduce((s, l) => s + lineAmount(l) - (l.lineDiscountCents ?? 0), 0);
  const discountCents = applied.reduce((s, a) => s + a.discountCents, 0);
  return { subtotalCents, discountCents, totalCents: subtotalCents - discountCents };
}

/** What would apply now; holds the applicable single-use offers for this lane a short while. */
export async function quote(deps: CheckoutDeps, req: Omit<SaleRequest, 'offline' | 'offerIds'>): Promise<QuoteResult> {
  const now = deps.clock.now();
  return withTx(deps.db, async (tx) => {
    const zone = await storeZone(tx, req.storeId);
    const { member } = await saleMember(tx, req.identity);
    const offers = member ? await liveOffers(tx, member.id, req, now, false) : [];
    const result = evaluate(offers, netLines(req.lines), localDate(new Date(req.ts), zone), { ignoreReservations: false });
    const until = new Date(now.getTime() + RESERVATION_TTL_SECONDS * 1000).toISOString();
    const held: AppliedOffer[] = [];
    for (const a of result.applied) {
      const o = offers.find((x) => x.id === a.offerId)!;
      if (o.uses_allowed - o.uses > 1) { held.push(a); continue; }
      const { rows } = await sql<{ offer_id: number }>`
        insert into offer_reservations (offer_id, member_id, store_id, terminal_id, txn_id, expires_at)
        values (${o.id}, ${o.member_id}, ${req.storeId}, ${req.terminalId}, ${req.txnId}, ${until}::timestamptz)
        on conflict (member_id, offer_id) do update set store_id = excluded.store_id,
          terminal_id = excluded.terminal_id, txn_id = excluded.txn_id, expires_at = excluded.expires_at
        where offer_reservations.expires_at <= ${now.toISOString()}::timestamptz
           or (offer_reservations.store_id, offer_reservations.terminal_id, offer_reservations.txn_id)
            = (excluded.store_id, excluded.terminal_id, excluded.txn_id)
        returning offer_id`.execute(tx);
      if (rows.length) held.push(a);
      else result.notApplied.push({ offerId: a.offerId, campaignId: a.campaignId, reason: 'reserved' });
    }
    return {
      memberNumber: member?.memberNumber ?? null,
      applied: held,
      notApplied: result.notApplied,
      ...totals(req.lines, held),
      reservedUntil: held.length ? until : null,
    };
  });
}

async function requestHash(kind: string, req: unknown): Promise<string> {
  return sha256Hex(`${kind}\u0000${JSON.stringify(req)}`);
}

/** A stored response for this key, or null; ConflictError when the key came with another request. */
async function replay<T>(tx: Db, key: { storeId: number; terminalId: string; txnId: string }, hash: string): Promise<T | null> {
  await sql`select pg_advisory_xact_lock(hashtext(${`cadence:checkout:${key.storeId}:${key.terminalId}:${key.txnId}`}))`.execute(tx);
  const prior = await tx
    .selectFrom('checkout_commits')
    .select(['request_hash', 'response'])
    .where('store_id', '=', key.storeId)
    .where('terminal_id', '=', key.terminalId)
    .where('txn_id', '=', key.txnId)
    .executeTakeFirst();
  if (!prior) return null;
  if (prior.request_hash !== hash) {
    throw new ConflictError(`transaction ${key.txnId} of terminal ${key.terminalId} was committed with other content`, [
      { path: 'txnId', message: 'already committed with other content' },
    ]);
  }
  return prior.response as T;
}

type PosKey = { storeId: number; terminalId: string; txnId: string };

/**
 * Runs `body` at most once per POS key, in one transaction retried on deadlock: a retry with the
 * same request returns the stored result (replayed), another request under the key is a 409, and
 * the result is stored as the key's checkout_commits row with the transaction.
 */
async function oncePerPosKey<T extends { basketId: number; replayed: boolean }>(
  deps: CheckoutDeps,
  kind: 'sale' | 'void' | 'return',
  req: PosKey,
  body: (tx: Db, now: Date) => Promise<{ result: T; memberId: number }>,
): Promise<T> {
  const hash = await requestHash(kind === 'sale' ? 'sale' : 'return', req);
  return retryOnDeadlock(() =>
    withTx(deps.db, async (tx) => {
      const stored = await replay<T>(tx, req, hash);
      if (stored) return { ...stored, replayed: true };
      const now = deps.clock.now();
      const { result, memberId } = await body(tx, now);
      await tx.insertInto('checkout_commits').values({
        store_id: req.storeId, terminal_id: req.terminalId, txn_id: req.txnId, kind,
        member_id: memberId, basket_id: result.basketId, request_hash: hash,
        response: jsonb(result), created_at: now,
      }).execute();
      return result;
    }),
  );
}

/** How a checkout basket names its member: the card, else the member number; none if anonymous. */
function memberRef(m: { cardNumber: string | null; memberNumber: string | null } | null): BasketInput['member'] {
  if (!m) return null;
  if (m.cardNumber) return { kind: 'card', ref: m.cardNumber };
  return m.memberNumber ? { kind: 'number', ref: m.memberNumber } : null;
}

/** Ingests one checkout basket through the POST /v1/baskets path; its id, or the error why not. */
async function ingestOne(tx: Db, basket: BasketInput, what: string): Promise<number> {
  const [outcome] = await ingestBaskets({ db: tx }, [basket], 'checkout');
  if (!outcome || outcome.status === 'rejected') throw new ValidationError(`the ${what} is invalid`, outcome?.issues ?? []);
  if (outcome.status === 'conflict') {
    throw new ConflictError(`a different basket ${basket.txnId} of terminal ${basket.terminalId} is already stored`, [
      { path: 'txnId', message: 'already used by another basket' },
    ]);
  }
  return outcome.basketId!;
}

/**
 * Commits a sale: redeems what applies (or, offline, what the POS applied), ingests the basket,
 * exactly once per (store, terminal, txn).
 */
export async function commit(deps: CheckoutDeps, req: SaleRequest): Promise<CommitResult> {
  return oncePerPosKey<CommitResult>(deps, 'sale', req, async (tx, now) => {
    const zone = await storeZone(tx, req.storeId);
    const { member, ref } = await saleMember(tx, req.identity);
    const day = localDate(new Date(req.ts), zone);
    const offers = member ? await liveOffers(tx, member.id, req, now, true) : [];
    const offline = req.offline === true;
    const conflicts: CommitResult['conflicts'] = [];
    let applied: AppliedOffer[];
    let notApplied: QuoteResult['notApplied'];
    if (offline) {
      // What the POS applied stands (the customer paid it); what could not count is reported.
      const wanted = new Set(req.offerIds ?? []);
      const laneGave = new Map((req.offlineDiscounts ?? []).map((d) => [d.offerId, d.discountCents]));
      const conflict = (offerId: number, reason: ConflictReason, computedCents: number) =>
        conflicts.push({ offerId, reason, discountCents: laneGave.get(offerId) ?? computedCents });
      const lines = netLines(req.lines);
      const taken = lines.map(() => 0);
      const campaignUses = new CampaignUses();
      applied = [];
      notApplied = [];
      for (const id of wanted) {
        const o = offers.find((x) => x.id === id) ?? (await anyOffer(tx, id, member?.id ?? null));
        if (!o) {
          conflict(id, 'unknown_offer', 0);
          continue;
        }
        const r = applyOffer({ kind: o.kind, value: o.value, minQty: o.min_qty, maxUnits: o.max_units, gtins: new Set(o.gtins), minSpendCents: o.min_spend_cents }, lines, taken);
        if ('reason' in r || r.discountCents === 0) {
          const reason = 'reason' in r ? r.reason : 'wrong_product';
          notApplied.push({ offerId: o.id, campaignId: o.campaign_id, reason });
          // The lane gave a discount the offer does not give here: the store must hear of it, with
          // what the lane says it gave (0 when it does not say: Cadence computes none).
          conflict(o.id, reason, 0);
          continue;
        }
        for (const a of r.allocations) taken[a.line]! += a.cents;
        const a: AppliedOffer = { offerId: o.id, campaignId: o.campaign_id, name: o.name, kind: o.kind, discountCents: r.discountCents, allocations: r.allocations };
        const reason: ConflictReason | null =
          'other_member' in o ? 'other_member'
          : 'voided' in o ? 'voided'
          : day < o.valid_from ? 'not_yet_valid'
          : day > o.valid_to ? 'expired'
          : o.uses >= o.uses_allowed || campaignUses.spent(o) ? 'already_used'
          : null;
        if (reason) conflict(o.id, reason, r.discountCents);
        else campaignUses.use(o);
        applied.push(a);
      }
    } else {
      ({ applied, notApplied } = evaluate(offers, netLines(req.lines), day, { ignoreReservations: false }));
    }

    // Redeem: the guarded increment is the exactly-once guarantee.
    const conflicted = new Set(conflicts.map((c) => c.offerId));
    const redeemed: AppliedOffer[] = [];
    for (const a of applied) {
      if (conflicted.has(a.offerId)) continue;
      const r = await sql`update offers set uses = uses + 1, updated_at = ${now.toISOString()}::timestamptz
        where member_id = ${member!.id} and id = ${a.offerId} and status = 'live' and uses < uses_allowed`.execute(tx);
      if (Number(r.numAffectedRows ?? 0) === 1) redeemed.push(a);
      else if (offline) {
        const gave = req.offlineDiscounts?.find((d) => d.offerId === a.offerId);
        conflicts.push({ offerId: a.offerId, reason: 'already_used', discountCents: gave?.discountCents ?? a.discountCents });
      }
      else notApplied.push({ offerId: a.offerId, campaignId: a.campaignId, reason: 'already_used' });
    }
    // Offline, the customer got every applied discount, counted or not.
    const given = offline ? applied : redeemed;
    const perLine = req.lines.map(() => 0);
    for (const a of given) for (const x of a.allocations) perLine[x.line]! += x.cents;
    const basketId = await ingestOne(
      tx,
      {
        storeId: req.storeId,
        terminalId: req.terminalId,
        txnId: req.txnId,
        ts: req.ts,
        member: ref,
        lines: req.lines.map((l, i) => ({
          gtin: l.gtin,
          qty: l.qty,
          unitPriceCents: l.unitPriceCents,
          lineDiscountCents: (l.lineDiscountCents ?? 0) + perLine[i]!,
        })),
      },
      'basket',
    );
    for (const a of redeemed) {
      await tx.insertInto('offer_redemptions').values({
        member_id: member!.id, offer_id: a.offerId, store_id: req.storeId, terminal_id: req.terminalId,
        txn_id: req.txnId, basket_id: basketId, discount_cents: a.discountCents,
        allocations: jsonb(a.allocations.map((x) => ({ lineNo: x.line + 1, cents: x.cents }))),
        ts: timestamptz(req.ts), offline, created_at: now,
      }).execute();
    }
    for (const c of conflicts) {
      await tx.insertInto('redemption_conflicts').values({
        store_id: req.storeId, terminal_id: req.terminalId, txn_id: req.txnId, offer_id: c.offerId,
        member_id: member?.id ?? 0, reason: c.reason, discount_cents: c.discountCents, ts: timestamptz(req.ts), created_at: now,
      }).execute();
    }
    await sql`delete from offer_reservations where store_id = ${req.storeId} and terminal_id = ${req.terminalId}
      and txn_id = ${req.txnId}`.execute(tx);
    const result: CommitResult = {
      memberNumber: member?.memberNumber ?? null,
      applied: given,
      notApplied,
      ...totals(req.lines, given),
      reservedUntil: null,
      basketId,
      conflicts,
      replayed: false,
    };
    return { result, memberId: member?.id ?? 0 };
  });
}

/** An offer outside the member's live ones (offline conflicts): why it could not count. */
async function anyOffer(
  tx: Db,
  id: number,
  memberId: number | null,
): Promise<(LiveOffer & ({ voided: true } | { other_member: true })) | null> {
  const { rows } = await sql<LiveOffer & { status: string }>`
    select ${offerColumns}, false as reserved_by_other, o.status
    from offers o join campaign_terms t on t.campaign_id = o.campaign_id and t.rule_hash = o.rule_hash
    where o.id = ${id} and not o.control`.execute(tx);
  const o = rows[0];
  if (!o) return null;
  if (o.member_id !== memberId) return { ...o, other_member: true };
  return { ...o, voided: true };
}

export interface ReturnRequest {
  storeId: number;
  terminalId: string;
  /** The return's own transaction id. */
  txnId: string;
  ts: string;
  original: { storeId?: number; terminalId: string; txnId: string };
  /** Units returned per GTIN; omitted = everything left (a void). */
  lines?: Array<{ gtin: string; qty: number }>;
}

export interface ReturnResult {
  basketId: number;
  refundCents: number;
  /** Offer discount taken back, per redemption. */
  reversed: Array<{ offerId: number; cents: number; useRestored: boolean }>;
  replayed: boolean;
}

/**
 * A return (or, without lines, a void of everything not yet returned): ingests a basket of
 * negative quantities priced as sold, gives back each line's discount pro rata to the units
 * returned, takes the same share back from each redemption on the line, and restores an offer's
 * use once the customer keeps none of its discount (everything it was allocated to returned) and
 * the offer is still valid. A partial return leaves the use spent: the customer keeps discounted
 * units. (Restoring it as soon as what was kept fell below the offer's minimum quantity gave the
 * use back while the customer kept part of the discount: the offer could be had twice.)
 * Cumulative rounding (share of the total returned so far, minus what earlier returns took) makes
 * a line returned in several parts refund exactly its amount and reverse exactly its discount
 * (a weighed line of 1.5 kg at 199 cents, 299 paid, returned 0.5 kg at a time was 100 × 3).
 */
export async function returnItems(deps: CheckoutDeps, req: ReturnRequest): Promise<ReturnResult> {
  return oncePerPosKey<ReturnResult>(deps, req.lines ? 'return' : 'void', req, async (tx, now) => {
    const zone = await storeZone(tx, req.storeId);
    const origStore = req.original.storeId ?? req.storeId;
    // The sale's row lock serializes returns and voids of one sale (from any lane): each reads what
    // the earlier ones returned. Without it two lanes both refunded the same units.
    const basket = await tx.selectFrom('baskets').select(['id', 'member_id'])
      .where('store_id', '=', origStore).where('terminal_id', '=', req.original.terminalId)
      .where('txn_id', '=', req.original.txnId).forUpdate().executeTakeFirst();
    if (!basket) {
      throw new NotFoundError('no such sale', [{ path: 'original.txnId', message: 'no basket with this store, terminal and txn' }]);
    }
    const orig = await sql<{ line_no: number; gtin: string; qty: number; unit_price_cents: number | null; line_discount_cents: number; returned: number; returned_discount: number }>`
      select l.line_no, l.gtin, l.qty::float8 as qty, l.unit_price_cents, l.line_discount_cents,
        coalesce((select sum(r.qty) from returned_units r where r.store_id = ${origStore} and r.terminal_id = ${req.original.terminalId}
                  and r.txn_id = ${req.original.txnId} and r.line_no = l.line_no), 0)::float8 as returned,
        coalesce((select sum(r.discount_cents) from returned_units r where r.store_id = ${origStore} and r.terminal_id = ${req.original.terminalId}
                  and r.txn_id = ${req.original.txnId} and r.line_no = l.line_no), 0)::int as returned_discount
      from basket_lines l where l.member_id = ${basket.member_id} and l.basket_id = ${basket.id} and l.qty > 0
      order by l.line_no`.execute(tx);
    const lines = orig.rows;
    // Units returned per original line: the request's GTINs, in line order, up to what is left.
    const back = new Map<number, number>();
    if (req.lines) {
      req.lines.forEach((r, i) => {
        let left = r.qty;
        const g = r.gtin.padStart(14, '0');
        for (const l of lines) {
          if (l.gtin !== g || left <= 0) continue;
          const avail = l.qty - l.returned - (back.get(l.line_no) ?? 0);
          const u = Math.min(avail, left);
          if (u > 0) back.set(l.line_no, (back.get(l.line_no) ?? 0) + u);
          left -= u;
        }
        if (left > 1e-9) {
          throw new ValidationError('more units returned than sold', [
            { path: `lines[${i}].qty`, message: `only ${r.qty - left} of ${r.gtin} left to return on this sale` },
          ]);
        }
      });
    } else {
      for (const l of lines) if (l.qty - l.returned > 0) back.set(l.line_no, l.qty - l.returned);
    }
    if (back.size === 0) throw new ValidationError('nothing left to return', [{ path: 'lines', message: 'everything on this sale was returned already' }]);

    const redemptions = await sql<{ offer_id: number; member_id: number; allocations: Array<{ lineNo: number; cents: number }>; reversed_cents: number; use_restored: boolean; discount_cents: number }>`
      select offer_id, member_id, allocations, reversed_cents, use_restored, discount_cents from offer_redemptions
      where store_id = ${origStore} and terminal_id = ${req.original.terminalId} and txn_id = ${req.original.txnId}
      order by offer_id`.execute(tx);
    const outLines: Array<{ gtin: string; qty: number; unitPriceCents: number | null; lineDiscountCents: number }> = [];
    let refund = 0;
    const lineShare = new Map<number, { before: number; after: number; qty: number }>();
    for (const l of lines) {
      const u = back.get(l.line_no);
      if (!u) continue;
      const after = Math.round((l.returned + u) * 1000) / 1000;
      const discountAfter = Math.round((l.line_discount_cents * after) / l.qty);
      const discountBack = discountAfter - l.returned_discount;
      outLines.push({ gtin: l.gtin, qty: -u, unitPriceCents: l.unit_price_cents, lineDiscountCents: -discountBack });
      const price = l.unit_price_cents ?? 0;
      refund += lineAmountCents(after, price) - lineAmountCents(l.returned, price) - discountBack;
      lineShare.set(l.line_no, { before: l.returned, after, qty: l.qty });
      await tx.insertInto('returned_units').values({
        store_id: origStore, terminal_id: req.original.terminalId, txn_id: req.original.txnId,
        line_no: l.line_no, return_store_id: req.storeId, return_terminal_id: req.terminalId, return_txn_id: req.txnId,
        qty: u, discount_cents: discountBack,
      }).execute();
    }
    const reversed: ReturnResult['reversed'] = [];
    const day = localDate(new Date(req.ts), zone);
    for (const r of redemptions.rows) {
      let cents = 0;
      for (const a of r.allocations) {
        const s = lineShare.get(a.lineNo);
        if (!s) continue;
        cents += Math.round((a.cents * s.after) / s.qty) - Math.round((a.cents * s.before) / s.qty);
      }
      cents = Math.min(cents, r.discount_cents - r.reversed_cents);
      const offer = (await sql<{ valid_to: string; status: string }>`
        select valid_to::text as valid_to, status from offers
        where member_id = ${r.member_id} and id = ${r.offer_id}`.execute(tx)).rows[0];
      const keepsNone = r.reversed_cents + cents >= r.discount_cents;
      let restored = false;
      if (!r.use_restored && keepsNone && offer && offer.status === 'live' && offer.valid_to >= day) {
        const u = await sql`update offers set uses = uses - 1, updated_at = ${now.toISOString()}::timestamptz
          where member_id = ${r.member_id} and id = ${r.offer_id} and uses > 0`.execute(tx);
        restored = Number(u.numAffectedRows ?? 0) === 1;
      }
      await sql`update offer_redemptions set reversed_cents = reversed_cents + ${cents},
          use_restored = use_restored or ${restored}
        where member_id = ${r.member_id} and offer_id = ${r.offer_id} and store_id = ${origStore}
          and terminal_id = ${req.original.terminalId} and txn_id = ${req.original.txnId}`.execute(tx);
      if (cents > 0 || restored) reversed.push({ offerId: r.offer_id, cents, useRestored: restored });
    }
    const member = await tx.selectFrom('members').select(['card_number', 'member_number'])
      .where('id', '=', basket.member_id).where('id', '<>', 0).executeTakeFirst();
    const basketId = await ingestOne(
      tx,
      {
        storeId: req.storeId,
        terminalId: req.terminalId,
        txnId: req.txnId,
        ts: req.ts,
        member: memberRef(member ? { cardNumber: member.card_number, memberNumber: member.member_number } : null),
        lines: outLines,
      },
      'return',
    );
    const result: ReturnResult = { basketId, refundCents: refund, reversed, replayed: false };
    return { result, memberId: basket.member_id };
  });
}
