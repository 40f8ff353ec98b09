import type { Campaign } from '../rules/campaign.ts';
import type { CampaignSpec } from './spec.ts';

const cell = (pattern: string) => {
  const [loyalty = '*', volume = '*'] = pattern.split('/');
  return { loyalty, volume };
};

/** A validated campaign file, as the assignment engine takes it. */
export function campaignSpec(c: Campaign): CampaignSpec {
  const o = c.offer;
  const reward = o.kind === 'reward_coupon';
  const kind: CampaignSpec['offer']['kind'] = o.kind === 'reward_coupon' ? 'reward' : o.kind;
  const flat = (v: number) => ({ low: v, medium: v, high: v, unclassified: v });
  const ladder = reward
    ? flat(o.valueCents ?? 0)
    : o.kind === 'buy_x_get_y'
      ? flat(o.get ?? 1)
      : { ...o.ladder!, unclassified: o.ladder!.low };
  const t = c.timing;
  return {
    id: c.id,
    name: c.name,
    hash: c.fileHash,
    activeFrom: c.activeFrom,
    activeTo: c.activeTo,
    promotes: c.promotes ?? { categories: [], gtins: [], brands: [], brandType: null },
    audience: {
      cells: c.audience.cells.map(cell),
      traits: c.audience.traits,
      tiers: c.audience.tiers,
      stages: c.audience.stages,
      qualifiedOnly: c.audience.qualifiedOnly,
      churnRisk: c.audience.churnRisk,
      exclude: {
        cells: c.audience.exclude.cells.map(cell),
        traits: c.audience.exclude.traits,
        tiers: c.audience.exclude.tiers,
        stages: c.audience.exclude.stages,
        churnRisk: c.audience.exclude.churnRisk,
      },
    },
    offer: {
      kind,
      ladder,
      minQty: o.kind === 'buy_x_get_y' ? (o.buy ?? 1) : o.minQty,
      maxUnits: o.maxUnits,
      minSpendCents: o.minSpendCents ?? 0,
    },
    timing:
      t.mode === 'fixed'
        ? { kind: 'fixed', validDays: 14, from: t.from, to: t.to }
        : reward
          ? { kind: 'fixed', validDays: t.validDays, from: null, to: null }
          : { kind: 'predicted', openDaysBefore: t.openDaysBefore, validDays: t.validDays, minProbability: t.minPurchaseProbability },
    limits: { usesPerOffer: c.limits.perMemberPerPeriod, perMemberTotal: c.limits.perMemberTotal },
    budget: c.budget,
    funding: c.funding ?? { manufacturerId: null, share: 0 },
    holdoutPercent: c.holdoutPercent,
    priority: c.priority,
    stackingGroup: c.stacking && c.stacking.mode === 'exclusive' ? c.stacking.group : null,
    content: c.content,
  };
}
