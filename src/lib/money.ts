/**
 * What a line costs before its discount, as a basket's total counts it: qty (3 decimals) × unit
 * price, rounded half up. A line's discount may not exceed it (a 500-cent discount on a 100-cent
 * line stored a basket of −400). Exact for 3-decimal quantities, where `Math.round(qty × price)`
 * is not: 1.005 × 100 is 100.49999999999999 in floating point, a cent less than the basket's total.
 * Pure (no imports): shared by the API's and the import's checks and by checkout.
 */
export function lineAmountCents(qty: number, unitPriceCents: number): number {
  return Math.floor((Math.round(qty * 1000) * unitPriceCents + 500) / 1000);
}
