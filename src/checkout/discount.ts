import type { OfferKind } from '../db/schema.ts';
import { lineAmountCents } from '../lib/money.ts';

/**
 * What an offer takes off a basket, and how that discount is spread over the basket's lines.
 * Pure functions, integer cents throughout (runtime-free; the offline POS logic can reuse them).
 *
 * Rounding. A percentage is taken of the covered amount once, rounded half up to the cent
 * (not per line). The discount is then allocated to the lines it applies to in proportion to
 * their covered amounts by the largest-remainder method: each line gets the floor of its exact
 * share, and the cents left over go one each to the lines with the largest remainders (ties to
 * the earlier line). So the allocations are whole cents, never exceed a line's covered amount,
 * and always sum exactly to the discount.
 */

export interface QuoteLine {
  gtin: string;
  /** Units (whole units for offers; weighed items count by their quantity as given). */
  qty: number;
  unitPriceCents: number;
}

export interface OfferTerms {
  kind: OfferKind;
  /** percent for percent_off; cents for amount_off, price_point, reward; free units for buy_x_get_y */
  value: number;
  minQty: number;
  maxUnits: number | null;
  /** GTINs the offer applies to; ignored for rewards, which apply to the whole basket. */
  gtins: ReadonlySet<string>;
  /** Rewards: the basket (after earlier discounts) must reach this. */
  minSpendCents?: number;
}

export type NotApplied = 'wrong_product' | 'below_min_qty' | 'below_min_spend';

export interface Applied {
  discountCents: number;
  /** Per basket line index: cents taken off that line (only lines with a share). */
  allocations: Array<{ line: number; cents: number }>;
}

/**
 * The discount `terms` give on `lines`, given what earlier offers already took off each line
 * (`taken`, cents per line index; a line never goes below zero).
 */
export function applyOffer(
  terms: OfferTerms,
  lines: readonly QuoteLine[],
  taken: readonly number[] = [],
): Applied | { reason: NotApplied } {
  const room = lines.map((l, i) => Math.max(0, lineAmount(l) - (taken[i] ?? 0)));
  if (terms.kind === 'reward') {
    const total = room.reduce((s, x) => s + x, 0);
    if (total <= 0) return { reason: 'wrong_product' };
    if (total < (terms.minSpendCents ?? 0)) return { reason: 'below_min_spend' };
    const discount = Math.min(Math.round(terms.value), total);
    return { discountCents: discount, allocations: allocate(discount, room) };
  }
  const matching = lines.flatMap((l, i) => (terms.gtins.has(l.gtin) && l.qty > 0 ? [i] : []));
  if (matching.length === 0) return { reason: 'wrong_product' };
  const units = matching.reduce((s, i) => s + lines[i]!.qty, 0);
  if (units < Math.max(terms.minQty, 1)) return { reason: 'below_min_qty' };

  // Covered units, in basket order, up to max_units (buy X get Y: max_units caps the free units,
  // the ones discounted, so every unit bought is covered).
  let left = terms.kind === 'buy_x_get_y' ? Number.POSITIVE_INFINITY : (terms.maxUnits ?? Number.POSITIVE_INFINITY);
  const covered = lines.map(() => 0); // covered amount per line, cents
  const coveredUnits = lines.map(() => 0);
  for (const i of matching) {
    const u = Math.min(lines[i]!.qty, left);
    left -= u;
    coveredUnits[i] = u;
    covered[i] = Math.min(lineAmountCents(u, lines[i]!.unitPriceCents), room[i]!);
  }
  const coveredAmount = covered.reduce((s, x) => s + x, 0);
  const coveredTotalUnits = coveredUnits.reduce((s, x) => s + x, 0);
  let discount: number;
  let weights = covered;
  switch (terms.kind) {
    case 'percent_off':
      discount = Math.floor((coveredAmount * terms.value) / 100 + 0.5);
      break;
    case 'amount_off':
      discount = Math.round(terms.value);
      break;
    case 'price_point':
      discount = coveredAmount - lineAmountCents(coveredTotalUnits, terms.value);
      break;
    case 'buy_x_get_y': {
      // Every (buy + get) units, `get` of them free: the cheapest covered units.
      const buy = Math.max(terms.minQty, 1);
      const get = Math.round(terms.value);
      let free = Math.min(Math.floor(coveredTotalUnits / (buy + get)) * get, terms.maxUnits ?? Number.POSITIVE_INFINITY);
      if (free === 0) return { reason: 'below_min_qty' };
      const cheapest = matching
        .filter((i) => coveredUnits[i]! > 0)
        .sort((a, b) => lines[a]!.unitPriceCents - lines[b]!.unitPriceCents || a - b);
      weights = lines.map(() => 0);
      discount = 0;
      for (const i of cheapest) {
        const u = Math.min(Math.floor(coveredUnits[i]!), free);
        free -= u;
        const cents = Math.min(lineAmountCents(u, lines[i]!.unitPriceCents), covered[i]!);
        weights[i] = cents;
        discount += cents;
        if (free === 0) break;
      }
      break;
    }
  }
  discount = Math.max(0, Math.min(discount, weights.reduce((s, x) => s + x, 0)));
  if (discount === 0) return { discountCents: 0, allocations: [] };
  return { discountCents: discount, allocations: allocate(discount, weights) };
}

/** What the line costs before discounts, rounded as the stored basket's total rounds it. */
export function lineAmount(l: QuoteLine): number {
  return lineAmountCents(l.qty, l.unitPriceCents);
}

/**
 * Spreads `cents` over `weights` (≥ 0) by the largest-remainder method; the result sums to
 * `cents` exactly and no line gets more than its weight (requires cents ≤ Σ weights).
 */
export function allocate(cents: number, weights: readonly number[]): Array<{ line: number; cents: number }> {
  const total = weights.reduce((s, w) => s + w, 0);
  if (!Number.isInteger(cents) || cents < 0) throw new RangeError(`cents must be a whole number ≥ 0: ${cents}`);
  if (cents > total) throw new RangeError(`cannot allocate ${cents} over ${total}`);
  if (cents === 0) return [];
  const shares = weights.map((w, line) => {
    // exact share = cents · w / total, as integer quotient and remainder (no float error)
    const numerator = cents * w;
    return { line, base: Math.floor(numerator / total), rem: numerator % total };
  });
  let left = cents - shares.reduce((s, x) => s + x.base, 0);
  const order = [...shares].sort((a, b) => b.rem - a.rem || a.line - b.line);
  for (const s of order) {
    if (left === 0) break;
    if (s.rem > 0) {
      s.base += 1;
      left -= 1;
    }
  }
  return shares.filter((s) => s.base > 0).map((s) => ({ line: s.line, cents: s.base }));
}
