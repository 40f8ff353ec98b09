import type { SimChain, SimMember } from '../../src/sim/index.ts';

/** What the statistical tests need from a member's generated history. */
export interface MemberHistory {
  member: SimMember;
  visitDays: number[];
  spendCents: number;
  /** Units bought per category id, split by brand type. */
  units: Map<string, { store: number; national: number }>;
  /** Days on which each GTIN was bought. */
  purchaseDays: Map<string, number[]>;
}

/** Simulates every member of a chain through the end of its history and summarises it. */
export function collectHistories(chain: SimChain): MemberHistory[] {
  const productByGtin = new Map(chain.products.map((p) => [p.gtin, p]));
  const out: MemberHistory[] = [];
  for (const member of chain.members()) {
    const h: MemberHistory = {
      member,
      visitDays: [],
      spendCents: 0,
      units: new Map(),
      purchaseDays: new Map(),
    };
    const sim = chain.simulator(member);
    for (let v = sim.nextVisit(chain.lastDay); v; v = sim.nextVisit(chain.lastDay)) {
      h.visitDays.push(v.day);
      for (const line of v.lines) {
        const product = productByGtin.get(line.gtin)!;
        h.spendCents += line.qty * line.unitPriceCents - line.lineDiscountCents;
        const u = h.units.get(product.categoryId) ?? { store: 0, national: 0 };
        u[product.brandType] += line.qty;
        h.units.set(product.categoryId, u);
        const days = h.purchaseDays.get(line.gtin) ?? [];
        days.push(v.day);
        h.purchaseDays.set(line.gtin, days);
      }
    }
    out.push(h);
  }
  return out;
}

export const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
