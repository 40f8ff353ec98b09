/**
 * The cycle model's probabilities in JavaScript, exact, for one member × item at a time (a profile
 * page asking about any window [from, to)). Set-based work uses the SQL twins in
 * migrations/20261124_03_cycles.ts (cadence_gamma_sf, cadence_window_prob, cadence_expected_gap),
 * which approximate these (survival within 0.011, window probabilities within 0.02); see cycles.ts
 * for the model.
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error < 1e-13). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Regularized upper incomplete gamma Q(shape, x) = P(X > x) for X ~ Gamma(shape, 1): the series
 * for x < shape + 1, Lentz's continued fraction beyond (Numerical Recipes, 3rd ed., §6.2).
 */
export function gammaSurvival(x: number, shape: number): number {
  if (!(shape > 0)) throw new RangeError(`shape must be positive: ${shape}`);
  if (x <= 0) return 1;
  const lnPrefix = shape * Math.log(x) - x - lnGamma(shape);
  if (x < shape + 1) {
    let term = 1 / shape;
    let sum = term;
    for (let n = 1; n < 500; n++) {
      term *= x / (shape + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lnPrefix));
  }
  const tiny = 1e-300;
  let b = x + 1 - shape;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - shape);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(lnPrefix) * h);
}

/** Parameters of one member × item cycle, as member_product_cycles stores them. */
export interface CycleParams {
  /** Days since the last purchase day (today − last purchase date). */
  elapsedDays: number;
  meanGapDays: number;
  gapShape: number;
}

/**
 * P(next purchase on one of the days from … to − 1 counted from today | none since the last one),
 * for whole days (± ½ day continuity). `fromDays` 0 and `toDays` 14 is "within the next 14 days".
 */
export function windowProbability(p: CycleParams, fromDays: number, toDays: number): number {
  const scale = p.meanGapDays / p.gapShape;
  const s = (days: number) => gammaSurvival((p.elapsedDays + days - 0.5) / scale, p.gapShape);
  const alive = s(0);
  if (alive <= 1e-12) return 0;
  return Math.max(0, (s(fromDays) - s(toDays)) / alive);
}

/**
 * E[gap | gap > elapsed − ½] = mean · Q(k + 1, x) / Q(k, x): days from the last purchase to the
 * expected next one, given it has not happened yet (never before today).
 */
export function expectedGapDays(p: CycleParams): number {
  const scale = p.meanGapDays / p.gapShape;
  const x = (p.elapsedDays - 0.5) / scale;
  const alive = gammaSurvival(x, p.gapShape);
  if (alive <= 1e-12) return p.elapsedDays;
  return Math.max(p.elapsedDays, (p.meanGapDays * gammaSurvival(x, p.gapShape + 1)) / alive);
}
