import type { MemberProductTruth, SimMember, VolumeLevel } from './members.ts';
import type { SimWorld } from './world.ts';

/**
 * The TRUE 9-cell volume of a member in a category, as the analysis defines volume: tertiles of the
 * units bought at this chain among the category's buyers (per week the member was a member during
 * the history, so that members who joined late are not light by construction).
 *
 * Why not the member's drawn consumption level (1, 1.5 or 2.2 times a light household's units per
 * purchase)? That level is what the household consumes at all grocers; what this chain's baskets
 * can show — and what the 9-cell is defined on — is how much of it is bought here, which also
 * depends on the share of wallet (0.03–0.98), the category's rhythm, the favourite pack size,
 * impulse buying, products given up and churn. A label that ignores those is not the quantity the
 * analysis is asked to measure.
 *
 * So the truth is the EXPECTED units per week at this chain, computed from the member's drawn
 * parameters with the simulator's own rules (never from the generated baskets):
 *
 *   rhythm  Σ_p  E[units per purchase of p] / meanGap_p · sow · A · ∫ hold(t)² dt / D
 *           (purchase cycles per day; a cycle is bought here when the trip it falls on is here,
 *           probability sow · hold, and a drifting member also buys a staple elsewhere with
 *           probability 1 − hold; A = the share of time not away on holiday; the integral runs
 *           over the member's days in the history before the product is given up; D = those days)
 *   impulse visits per day · E[impulse picks per visit] · q_c · E[units per pick in c]
 *           (visits per day = sow · A · mean hold / trip gap; picks fill the visit's spend target
 *           (weekly spend · days since the last trip, scattered) above what the rhythm bought;
 *           q_c the chance a pick lands in c: trial picks are uniform, the rest by impulse weight)
 *
 * What this leaves out is second order and the same for everyone (stock-outs, substitutions,
 * holiday basket factors, the line cap). The expectation keeps the noise of the observed baskets
 * (irregular gaps, how many trips happened to be here) out of the truth, as it should be.
 */

/** Shared with behaviour.ts, so the expectation follows the rules the baskets are made by. */
/** Episodes a year in which a member does all their shopping elsewhere (holidays, a move…). */
export const ABSENCES_PER_YEAR = 0.8;
/** Mean length of an absence, days (uniform 7–28). */
const MEAN_ABSENCE_DAYS = 17.5;
export const TRIAL_RATE = 0.04;
export const VARIETY_RATE = 0.25;
export const IMPULSE_LINE_CAP = 100;
/** Basket spend target scatter (lognormal σ). */
const TARGET_SIGMA = 0.35;
const PICK_UNITS_SIGMA = 0.25;

/** Standard-normal quadrature nodes (16 equal-probability quantiles), for smooth expectations. */
const NORMAL_NODES = Array.from({ length: 16 }, (_, i) => probit((i + 0.5) / 16));

function probit(p: number): number {
  // Acklam's rational approximation: |error| < 1.2e-9, ample here.
  const a = [-39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269, -30.6647980661472, 2.50662827745924];
  const b = [-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197, -13.2806815528857];
  const c = [-0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373, 4.37466414146497, 2.93816398269878];
  const d = [0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742];
  const q = Math.min(p, 1 - p);
  let x: number;
  if (q < 0.02425) {
    const r = Math.sqrt(-2 * Math.log(q));
    x = (((((c[0]! * r + c[1]!) * r + c[2]!) * r + c[3]!) * r + c[4]!) * r + c[5]!) /
      ((((d[0]! * r + d[1]!) * r + d[2]!) * r + d[3]!) * r + 1);
  } else {
    const r = q - 0.5;
    const s = r * r;
    x = ((((((a[0]! * s + a[1]!) * s + a[2]!) * s + a[3]!) * s + a[4]!) * s + a[5]!) * r) /
      (((((b[0]! * s + b[1]!) * s + b[2]!) * s + b[3]!) * s + b[4]!) * s + 1);
    return p < 0.5 ? x : -x;
  }
  return p < 0.5 ? -x : x;
}

const scatterAt = (sigma: number, z: number) => Math.exp(sigma * z - (sigma * sigma) / 2);

/** E[units] of a rhythm purchase whose usual quantity is u: one fewer or one more, 1 in 8 each. */
function expectedPurchaseUnits(u: number): number {
  return 0.75 * u + 0.125 * Math.max(1, u - 1) + 0.125 * (u + 1);
}

/**
 * ∫ hold(t)^k dt over [from, to) (days), hold = 1 before the churn onset and
 * exp(−(t − onset)/τ) after it.
 */
function holdIntegral(
  from: number,
  to: number,
  k: number,
  onset: number | null,
  tau: number,
): number {
  if (to <= from) return 0;
  if (onset === null || onset >= to) return to - from;
  const before = Math.max(0, onset - from);
  const a = Math.max(from, onset) - onset;
  const b = to - onset;
  return before + (tau / k) * (Math.exp((-k * a) / tau) - Math.exp((-k * b) / tau));
}

/**
 * Expected units per week bought at this chain, per category the member buys (by category index),
 * over the member's days in the history.
 */
export interface ExpectedVolume {
  unitsPerWeek: number;
  /** Expected purchase occasions at this chain over the member's days in the history. */
  purchases: number;
}

export function expectedVolume(world: SimWorld, member: SimMember): Map<number, ExpectedVolume> {
  const { catalogue, lastDay } = world;
  const { truth } = member;
  const from = Math.max(world.firstDay, member.enrolledDay);
  const to = lastDay + 1;
  const days = to - from;
  const onset = truth.churnOnsetDay;
  const tau = truth.churnDecayDays;
  const away = ABSENCES_PER_YEAR * MEAN_ABSENCE_DAYS / 365;
  const present = truth.shareOfWallet / (1 + away);
  const out = new Map<number, ExpectedVolume>();
  if (days <= 0) return out;
  const add = (category: number, unitsPerWeek: number, purchases: number) => {
    const v = out.get(category) ?? { unitsPerWeek: 0, purchases: 0 };
    v.unitsPerWeek += unitsPerWeek;
    v.purchases += purchases;
    out.set(category, v);
  };

  // Rhythm purchases, and what they spend on a trip (which the impulse fill tops up): product p
  // is due on a trip with probability trip gap / mean gap, so the rhythm spend of a trip is a sum
  // of Bernoulli terms (mean, variance and the chance that nothing is due).
  const trip = truth.tripMeanDays;
  let rhythmMean = 0;
  let rhythmVar = 0;
  let nothingDue = 1;
  for (const p of truth.products as MemberProductTruth[]) {
    const end = p.abandonedOnDay === null ? to : Math.min(to, p.abandonedOnDay);
    const unitsPerCycle = expectedPurchaseUnits(p.unitsPerPurchase);
    const cycles = (present * holdIntegral(from, end, 2, onset, tau)) / p.meanGapDays;
    add(p.categoryIndex, (7 * unitsPerCycle * cycles) / days, cycles);
    const due = (Math.min(1, trip / p.meanGapDays) * Math.max(0, end - from)) / days;
    const spend = unitsPerCycle * catalogue.products[p.productIndex]!.priceCents;
    rhythmMean += due * spend;
    rhythmVar += due * (1 - due) * spend * spend;
    nothingDue *= 1 - due;
  }

  // Impulse picks: which category, how many units and how much spend per pick.
  const categories = truth.categories;
  if (categories.length === 0) return out;
  const weightSum = categories.reduce((s, c) => s + c.impulseWeight, 0);
  const share = categories.map((c) =>
    weightSum > 0
      ? TRIAL_RATE / categories.length + ((1 - TRIAL_RATE) * c.impulseWeight) / weightSum
      : 1 / categories.length,
  );
  const unitsPerPick: number[] = [];
  let spendPerPick = 0;
  categories.forEach((c, i) => {
    const cat = catalogue.categories[c.categoryIndex]!;
    // The favourite of the chosen brand type, or (variety) any product of that type.
    const choices: Array<[product: number, weight: number]> = [];
    for (const [store, pStore] of [
      [true, c.storeShare],
      [false, 1 - c.storeShare],
    ] as const) {
      const pool = (store ? catalogue.storeByCategory : catalogue.nationalByCategory)[
        c.categoryIndex
      ] as readonly number[];
      choices.push([store ? c.favouriteStore : c.favouriteNational, pStore * (1 - VARIETY_RATE)]);
      for (const q of pool) choices.push([q, (pStore * VARIETY_RATE) / pool.length]);
    }
    let units = 0;
    let spend = 0;
    for (const [product, w] of choices) {
      if (w === 0) continue;
      const packs = cat.packsBySize[catalogue.products[product]!.sizeIndex] as number;
      let u = 0;
      for (const z of NORMAL_NODES) {
        u += Math.max(
          1,
          Math.round(packs * (1 + (c.volumeMultiplier - 1) * 0.3) * scatterAt(PICK_UNITS_SIGMA, z)),
        );
      }
      u /= NORMAL_NODES.length;
      units += w * u;
      spend += w * u * catalogue.products[product]!.priceCents;
    }
    unitsPerPick[i] = units;
    spendPerPick += (share[i] as number) * spend;
  });

  // Picks per visit: fill the spend target above the rhythm spend, then one line over it; an empty
  // basket gets at least one. Expectation over the target's scatter and (normal approximation,
  // given that something is due) the rhythm spend.
  const meanHold = holdIntegral(from, to, 1, onset, tau) / days;
  const target = (truth.weeklySpendCents / 7) * trip * (0.4 + 0.6 * meanHold);
  const someDue = 1 - nothingDue;
  const dueMean = someDue > 0 ? rhythmMean / someDue : 0;
  const dueSd = someDue > 0
    ? Math.sqrt(Math.max(0, (rhythmVar + rhythmMean * rhythmMean) / someDue - dueMean * dueMean))
    : 0;
  let picks = 0;
  for (const z of NORMAL_NODES) {
    const t = target * scatterAt(TARGET_SIGMA, z);
    let filled = 0;
    for (const z2 of NORMAL_NODES) {
      const gap = t - Math.max(0, dueMean + dueSd * z2);
      filled += gap > 0 ? gap / spendPerPick + 0.5 : 0;
    }
    const empty = Math.max(1, t / spendPerPick + 0.5);
    picks += Math.min(
      IMPULSE_LINE_CAP,
      nothingDue * empty + (someDue * filled) / NORMAL_NODES.length,
    );
  }
  picks /= NORMAL_NODES.length;
  const visitsPerWeek = (7 * present * meanHold) / trip;
  categories.forEach((c, i) => {
    const picksPerVisit = picks * (share[i] as number);
    // Picks of one visit land on one purchase day: days with one or more picks in c.
    const purchaseDays = (visitsPerWeek * days * (1 - Math.exp(-picksPerVisit))) / 7;
    add(c.categoryIndex, visitsPerWeek * picksPerVisit * (unitsPerPick[i] as number), purchaseDays);
  });
  return out;
}

/**
 * Tertile cut points (⅓ and ⅔ quantiles) of expected units per week per category, among the
 * category's buyers over the history. Who is a buyer in a given year is itself chance (a light
 * buyer may not buy in it at all), so each member counts with the probability of buying at least
 * once, 1 − exp(−expected purchases): the cuts are the tertiles of the buyers a year of baskets
 * shows, in expectation. Members are independent draws, so the cuts of a sample (the first
 * members) stand for a chain of any size.
 */
export function volumeCuts(
  world: SimWorld,
  members: Iterable<SimMember>,
): Map<number, [number, number]> {
  const values = new Map<number, Array<[units: number, weight: number]>>();
  for (const m of members) {
    for (const [category, v] of expectedVolume(world, m)) {
      let list = values.get(category);
      if (!list) values.set(category, (list = []));
      list.push([v.unitsPerWeek, 1 - Math.exp(-v.purchases)]);
    }
  }
  const cuts = new Map<number, [number, number]>();
  for (const [category, list] of values) {
    list.sort((a, b) => a[0] - b[0]);
    const total = list.reduce((s, [, w]) => s + w, 0);
    const at = (q: number) => {
      let acc = 0;
      for (const [units, w] of list) {
        acc += w;
        if (acc >= q * total) return units;
      }
      return list[list.length - 1]![0];
    };
    cuts.set(category, [at(1 / 3), at(2 / 3)]);
  }
  return cuts;
}

export function volumeLevelOf(units: number, cuts: [number, number] | undefined): VolumeLevel {
  if (!cuts) return 'medium';
  return units < cuts[0] ? 'low' : units < cuts[1] ? 'medium' : 'high';
}
