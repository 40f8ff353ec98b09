import type { BrandType } from './catalogue.ts';
import type { BrandPref } from './members.ts';

export interface OfferTerms {
  /** Brand type of the product on offer. */
  brandType: BrandType;
  /** Discount as a share of the shelf price, 0..1. */
  discountShare: number;
  /** Days the offer can be redeemed (window length, ≥ 1). */
  windowDays: number;
}

export interface OfferResponse {
  /** Chance the member redeems the offer during its window. */
  probability: number;
  /** Redeeming means leaving the brand type the member is loyal to (national ↔ store). */
  converts: boolean;
}

interface Relation {
  /** Best-case redemption rate: a deep offer landing on the due date. */
  ceiling: number;
  /** Discount share at which half the ceiling is reached. */
  halfDepth: number;
}

const SAME_BRAND_TYPE: Relation = { ceiling: 0.85, halfDepth: 0.1 };
const STORE_TO_NATIONAL_LOYAL: Relation = { ceiling: 0.6, halfDepth: 0.35 };
const NATIONAL_TO_STORE_LOYAL: Relation = { ceiling: 0.6, halfDepth: 0.25 };
const NON_BUYER_TRIAL: Relation = { ceiling: 0.25, halfDepth: 0.3 };
const DEPTH_STEEPNESS = 2.5;
const TIMING_FLOOR = 0.1;
const TIMING_DECAY_DAYS = 7;
const TIMING_UNKNOWN = 0.5;

/**
 * The simulator's ground-truth response to a personal offer:
 *
 *   P(redeem) = ceiling · depth(d) · timing(Δ)
 *   depth(d)  = d^k / (d^k + h^k)                Hill curve: 0 at no discount, ½ at d = h; k = 2.5
 *   timing(Δ) = f + (1 − f) · exp(−Δ / 7 days)   f = 0.1: some members pull a purchase forward
 *
 * where d is the discount share, Δ the days between the member's next due date in the category and
 * the offer window (0 when the due date falls inside it), and (ceiling, h) depend on the relation:
 * the member's own brand type or a switcher (0.85, 10%), a store-brand offer to a national-brand
 * loyalist (0.6, 35%: only a deep offer converts), a national offer to a store loyalist (0.6, 25%),
 * a member who does not buy the category (0.25, 30%: trial). Without a due date timing is 0.5.
 *
 * `dueOffsetDays` is the due date minus the window's first day (negative: due before it opens).
 */
export function offerRedemptionProbability(
  pref: BrandPref | null,
  offer: OfferTerms,
  dueOffsetDays: number | null,
): OfferResponse {
  const converts =
    (pref === 'national' && offer.brandType === 'store') ||
    (pref === 'store' && offer.brandType === 'national');
  const relation =
    pref === null
      ? NON_BUYER_TRIAL
      : !converts
        ? SAME_BRAND_TYPE
        : pref === 'national'
          ? STORE_TO_NATIONAL_LOYAL
          : NATIONAL_TO_STORE_LOYAL;

  const d = Math.min(1, Math.max(0, offer.discountShare));
  const dk = Math.pow(d, DEPTH_STEEPNESS);
  const depth = dk / (dk + Math.pow(relation.halfDepth, DEPTH_STEEPNESS));

  let timing = TIMING_UNKNOWN;
  if (dueOffsetDays !== null) {
    const lastOffset = Math.max(1, offer.windowDays) - 1;
    const distance = dueOffsetDays < 0 ? -dueOffsetDays : Math.max(0, dueOffsetDays - lastOffset);
    timing = TIMING_FLOOR + (1 - TIMING_FLOOR) * Math.exp(-distance / TIMING_DECAY_DAYS);
  }
  return { probability: relation.ceiling * depth * timing, converts };
}
