import { sql } from 'kysely';
import type { Db } from '../db/index.ts';
import type { OfferKind } from '../db/schema.ts';
import { NotFoundError } from '../lib/errors.ts';
import { clipText } from '../lib/text.ts';
import { MAX_LIST_OFFERS, type CouponId, type Discount, type ListDocumentInput } from './document.ts';

/**
 * Turns a stored list (src/lists/period.ts) into the ListDocument the PDF and the apps render:
 * "Due soon" with today's shelf prices and the offer marked, "Your offers", "Rewards", one piece
 * of content chosen for the member, and tier perks. Runtime-free.
 */

export interface Branding {
  chainName: string;
  tagline: string | null;
  color: string;
}

/** What content selection needs of an item of rules/content. */
export interface ContentChoice {
  id: string;
  kind: 'recipe' | 'meal_plan' | 'tip' | 'health_note' | 'perk';
  title: string;
  text: string;
  lines: string[];
  suits: { traits: string[]; categories: string[]; tiers: string[]; stages: string[] };
}

export interface ComposeOptions {
  branding: Branding;
  /** GS1 company prefix of the chain's coupons (AI 255 Global Coupon Numbers). */
  companyPrefix: string;
  content: readonly ContentChoice[];
}

/** A campaign's coupon reference: stable digits from its id, as many as the prefix leaves. */
export function couponReference(campaignId: string, companyPrefix: string): string {
  const digits = 12 - companyPrefix.length;
  // a 12-digit prefix leaves no room: the GCN is the prefix and its check digit alone
  if (digits === 0) return '';
  let h = 2166136261;
  for (const ch of campaignId) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return String(h % 10 ** digits).padStart(digits, '0');
}

function discountOf(kind: OfferKind, value: number, minQty: number): Discount {
  switch (kind) {
    case 'percent_off':
      // exactly what the till applies (checkout/discount.ts), never rounded to a whole percent
      return { kind: 'percent', percent: Math.min(100, Math.round(value * 100) / 100) };
    case 'amount_off':
    case 'reward':
      return { kind: 'amount', amountCents: Math.max(1, Math.round(value)) };
    case 'price_point':
      return { kind: 'price', priceCents: Math.round(value), quantity: 1 };
    case 'buy_x_get_y':
      return { kind: 'free', buy: Math.max(1, minQty), get: Math.max(1, Math.round(value)) };
  }
}

/**
 * The conditions the lane holds an offer to, printed under it: the minimum quantity (buy X get Y
 * says it in its discount), the units covered and the uses. The list said "One use." whatever the
 * campaign allowed, and never the minimum, so a member buying one unit of a "buy 2" offer was
 * refused at the till.
 */
function offerTerms(o: { kind: OfferKind; min_qty: number; max_units: number | null; uses_allowed: number }): string {
  const parts: string[] = [];
  if (o.kind !== 'buy_x_get_y' && o.min_qty > 1) parts.push(`When you buy ${o.min_qty} or more.`);
  if (o.max_units) parts.push(`Up to ${o.max_units} unit${o.max_units === 1 ? '' : 's'}.`);
  parts.push(o.uses_allowed === 1 ? 'One use.' : `${o.uses_allowed} uses.`);
  return parts.join(' ');
}

function suits(c: ContentChoice, m: { traits: Set<string>; categories: Set<string>; tier: string | null; stage: string | null }): number {
  // 0: does not suit; otherwise a score, most specific first (traits, then categories).
  const s = c.suits;
  if (s.tiers.length && !(m.tier && s.tiers.includes(m.tier))) return 0;
  if (s.stages.length && !(m.stage && s.stages.includes(m.stage))) return 0;
  const traitHits = s.traits.filter((t) => m.traits.has(t)).length;
  const categoryHits = s.categories.filter((t) => m.categories.has(t)).length;
  if (s.traits.length && !traitHits) return 0;
  if (s.categories.length && !categoryHits) return 0;
  return 1 + 4 * traitHits + 2 * categoryHits;
}

export async function composeList(db: Db, listId: number, opts: ComposeOptions): Promise<ListDocumentInput> {
  const list = await sql<{
    id: number; member_id: number; period_start: string; period_end: string; store_id: number | null;
    content: { dueSoon?: Array<{ gtin: string; predictedDate: string; probability: number }> };
    member_number: string | null; card_number: string | null; store_name: string | null;
    tier: string | null; stage: string | null; voided: boolean; replaced_by: string | null; first_name: string | null;
  }>`
    select l.id, l.member_id, l.period_start::text as period_start, l.period_end::text as period_end, l.store_id,
      l.content, m.member_number, m.card_number, s.name as store_name, ms.tier, ms.stage,
      l.voided_at is not null as voided, mc.first_name,
      -- a regenerate voids the list and builds the member's next one at the same instant
      (select r.id::text from lists r
        where l.voided_at is not null and r.member_id = l.member_id and r.period_start = l.period_start
          and r.id <> l.id and r.created_at >= l.voided_at
        order by r.created_at, r.id limit 1) as replaced_by
    from lists l join members m on m.id = l.member_id
    left join stores s on s.id = l.store_id
    left join member_scores ms on ms.member_id = l.member_id
    -- the member's own list greets them by first name (contact data stays out of exports, not of it)
    left join member_contacts mc on mc.member_id = l.member_id
    where l.id = ${listId}`.execute(db);
  const row = list.rows[0];
  if (!row) throw new NotFoundError(`no list ${listId}`, [{ path: 'id', message: 'no such list' }]);

  const { rows: offers } = await sql<{
    id: number; campaign_id: string; name: string; kind: OfferKind; value: number; min_qty: number;
    max_units: number | null; min_spend_cents: number; valid_from: string; valid_to: string; gtins: string[];
    category_id: string | null; uses_allowed: number;
  }>`
    select o.id, o.campaign_id, t.name, o.kind, o.value::float8 as value, o.min_qty, o.max_units, o.min_spend_cents,
      o.uses_allowed,
      o.valid_from::text as valid_from, o.valid_to::text as valid_to, t.gtins, o.category_id
    from offers o join campaign_terms t on t.campaign_id = o.campaign_id and t.rule_hash = o.rule_hash
    where o.member_id = ${row.member_id} and o.list_id = ${row.id} and o.status = 'live' and not o.control
    order by o.expected_value_cents desc, o.id`.execute(db);

  const due = row.content.dueSoon ?? [];
  const products = due.length
    ? (await sql<{ gtin: string; name: string | null; size: string | null; price_cents: number | null; category_id: string | null }>`
        select gtin, name, size, price_cents, category_id from products where gtin = any(${due.map((d) => d.gtin)}::text[]::char(14)[])`.execute(db)).rows
    : [];
  const byGtin = new Map(products.map((p) => [p.gtin, p]));
  const traits = (await sql<{ trait: string }>`select trait from member_traits where member_id = ${row.member_id} order by trait`.execute(db)).rows;

  const coupon = (campaignId: string): CouponId => ({
    scheme: 'gcn',
    companyPrefix: opts.companyPrefix,
    couponReference: couponReference(campaignId, opts.companyPrefix),
  });
  const serial = (id: number) => String(id).padStart(9, '0');
  const priced = offers.filter((o) => o.kind !== 'reward');
  const rewards = offers.filter((o) => o.kind === 'reward');
  // A due item the catalogue names or prices only in part (a GTIN first seen in baskets is a
  // placeholder without either) stays on the list: the member is still due to buy it.
  const dueItems = due.map((d) => {
    const p = byGtin.get(d.gtin);
    const offer = priced.find((o) => o.gtins.includes(d.gtin));
    return {
      name: clipText(p?.name?.trim() || `Item ${d.gtin}`, 80),
      size: (p?.size && clipText(p.size, 30)) || null,
      priceCents: p?.price_cents ?? null,
      offerSerial: offer ? serial(offer.id) : null,
    };
  });

  const member = {
    traits: new Set(traits.map((t) => t.trait)),
    categories: new Set([
      ...priced.flatMap((o) => (o.category_id ? [o.category_id] : [])),
      ...products.flatMap((p) => (p.category_id ? [p.category_id] : [])),
    ]),
    tier: row.tier,
    stage: row.stage,
  };
  const ranked = (kinds: ContentChoice['kind'][]) =>
    opts.content
      .filter((c) => kinds.includes(c.kind))
      .map((c) => ({ c, score: suits(c, member) }))
      .filter((x) => x.score > 0)
      .sort((a, b) => b.score - a.score || a.c.id.localeCompare(b.c.id));
  // One piece per list, rotating through the best-suited ones by period so lists do not repeat.
  const pieces = ranked(['recipe', 'meal_plan', 'tip', 'health_note']);
  const top = pieces.filter((x) => x.score === pieces[0]?.score);
  const periodIndex = Math.floor(Date.parse(row.period_start) / (14 * 86_400_000));
  const piece = top.length ? top[(periodIndex + row.member_id) % top.length]!.c : null;
  const perks = ranked(['perk']).slice(0, 6).map((x) => x.c);

  return {
    listSerial: String(row.id),
    status: row.voided ? 'voided' : 'live',
    replacedBy: row.replaced_by,
    memberNumber: row.member_number ?? row.card_number ?? String(row.member_id),
    cardNumber: row.card_number,
    greetingName: (row.first_name?.trim() && clipText(row.first_name.trim(), 60)) || null,
    periodFromDate: row.period_start,
    periodToDate: row.period_end,
    store: {
      storeId: row.store_id ?? 1,
      chainName: opts.branding.chainName,
      storeName: row.store_name ?? opts.branding.chainName,
      tagline: opts.branding.tagline,
      brandColor: opts.branding.color,
    },
    dueSoon: dueItems.slice(0, 40),
    offers: priced.slice(0, MAX_LIST_OFFERS).map((o) => ({
      serial: serial(o.id),
      description: clipText(o.name, 120),
      discount: discountOf(o.kind, o.value, o.min_qty),
      validFromDate: o.valid_from,
      validToDate: o.valid_to,
      coupon: coupon(o.campaign_id),
      terms: offerTerms(o),
    })),
    rewards: rewards.slice(0, MAX_LIST_OFFERS).map((o) => ({
      serial: serial(o.id),
      description: clipText(o.name, 120),
      valueCents: Math.max(1, Math.round(o.value)),
      validFromDate: o.valid_from,
      validToDate: o.valid_to,
      coupon: coupon(o.campaign_id),
      terms: o.min_spend_cents > 0 ? `On a basket of $${(o.min_spend_cents / 100).toFixed(2)} or more.` : null,
    })),
    content: piece
      ? {
          kind: piece.kind === 'health_note' ? 'tip' : (piece.kind as 'recipe' | 'meal_plan' | 'tip'),
          title: clipText(piece.title, 80),
          body: clipText(piece.text, 600),
          lines: piece.lines.slice(0, 10).map((l) => clipText(l, 100)),
        }
      : null,
    perks: perks.map((p) => ({ code: p.id.replace(/[^a-z0-9_]/g, '_').slice(0, 40), title: clipText(p.title, 60), description: clipText(p.text, 160) })),
  };
}
