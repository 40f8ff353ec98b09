/**
 * What a line costs before its discount, as a basket's total counts it: qty (3 decimals) × unit
 * price, rounded half away from zero (a returned line, negative, mirrors the sold one). A line's
 * discount may not exceed it (a 500-cent discount on a 100-cent line stored a basket of −400). Exact for 3-decimal quantities, where `Math.round(qty × price)`
 * is not: 1.005 × 100 is 100.49999999999999 in floating point, a cent less than the basket's total.
 * Pure (no imports): shared by the API's and the import's checks and by checkout.
 */
export function lineAmountCents(qty: number, unitPriceCents: number): number {
  return roundThousandths(Math.round(qty * 1000) * unitPriceCents);
}

/** round(qty × price) as numeric rounds it (half away from zero), from qty in thousandths × cents. */
export function roundThousandths(milliCents: number): number {
  return milliCents < 0 ? -Math.floor((500 - milliCents) / 1000) : Math.floor((milliCents + 500) / 1000);
}

/**
 * Why a line's discount does not fit its amount, or null when it does: on a sold line between 0
 * and the amount; on a returned line (negative quantity, negative amount) between the amount and
 * 0, the discount given back with it.
 */
export function lineDiscountProblem(amountCents: number, discountCents: number): string | null {
  if (amountCents >= 0) {
    if (discountCents < 0) return 'negative on a sold line (only a returned line, of negative quantity, gives a discount back)';
    return discountCents > amountCents ? `more than the line's ${amountCents} cents` : null;
  }
  if (discountCents > 0) return `positive on a returned line (its discount given back is 0 or negative, down to its ${amountCents} cents)`;
  return discountCents < amountCents ? `more than the returned line's ${amountCents} cents` : null;
}
