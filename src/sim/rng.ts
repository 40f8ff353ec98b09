/**
 * Seeded randomness for the simulator.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state, passes
 * PractRand and BigCrush), seeded through a murmur3-style finaliser so that consecutive seeds and
 * stream keys give unrelated streams. Every stream is named by a tuple of integer keys
 * (seed, member index, purpose…): a member's data depends only on its own keys, never on how many
 * numbers other members drew, which is what makes output independent of batching and lets one
 * member be regenerated alone.
 *
 * Distributions: normal by Box–Muller; gamma by Marsaglia & Tsang, "A simple method for generating
 * gamma variables", ACM TOMS 26(3), 2000 (with the U^(1/a) boost for shape < 1); beta from two
 * gammas; Poisson by Knuth's product method below λ = 30 and a rounded normal above.
 */

const TWO_POW_32 = 4294967296;

/** murmur3's 32-bit finaliser: a bijective avalanche of one word. */
export function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hashes a tuple of integers (any safe integers, negative allowed) to one 32-bit word. */
export function hashInts(...keys: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const key of keys) {
    // Fold the high word in too, so seeds above 2^32 still differ.
    const lo = key | 0;
    const hi = Math.floor(key / TWO_POW_32) | 0;
    h = mix32(h ^ mix32(lo + 0x7f4a7c15));
    h = mix32(h ^ mix32(hi + 0x165667b1));
  }
  return h;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Box–Muller yields normals in pairs; the second one waits here. */
  private spare = Number.NaN;

  constructor(...keys: readonly number[]) {
    const base = hashInts(...keys);
    this.a = mix32(base ^ 0x243f6a88) | 0;
    this.b = mix32(base ^ 0x85a308d3) | 0;
    this.c = mix32(base ^ 0x13198a2e) | 0;
    this.d = 1;
    // The first outputs of sfc32 still carry the structure of the seed words.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t0 = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const t = (t0 + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform on [0, 1). */
  next(): number {
    return this.uint32() / TWO_POW_32;
  }

  /** Uniform integer on [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer on [lo, hi], both inclusive. */
  intBetween(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = Number.NaN;
      return z;
    }
    const u = 1 - this.next(); // (0, 1]: log(u) is finite
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** exp(N(mu, sigma²)). */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal());
  }

  /** A lognormal factor with mean exactly 1: scatter that does not shift averages. */
  scatter(sigma: number): number {
    return Math.exp(sigma * this.normal() - (sigma * sigma) / 2);
  }

  /** Gamma(shape, scale): mean shape·scale, variance shape·scale². */
  gamma(shape: number, scale = 1): number {
    if (shape < 1) {
      return this.gamma(shape + 1, scale) * Math.pow(1 - this.next(), 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = this.normal();
      let v = 1 + c * x;
      if (v <= 0) continue;
      v = v * v * v;
      const u = 1 - this.next();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v * scale;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  }

  /** Gamma with a given mean and shape (scale = mean / shape). */
  gammaMean(mean: number, shape: number): number {
    return this.gamma(shape, mean / shape);
  }

  beta(a: number, b: number): number {
    const x = this.gamma(a);
    return x / (x + this.gamma(b));
  }

  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda >= 30) {
      return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    }
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Index drawn with probability proportional to its weight (weights ≥ 0, not all 0). */
  weightedIndex(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i] as number;
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    // Rounding can leave r a hair above 0: fall back to the last positive weight.
    for (let i = weights.length - 1; i >= 0; i--) if ((weights[i] as number) > 0) return i;
    throw new RangeError('weightedIndex needs a positive weight');
  }
}
