import { z } from 'zod';
import { parseGtin } from '../lib/gtin.ts';
import { inRange } from '../lib/validators.ts';

/**
 * A campaign: one file in `rules/campaigns/`, written by marketers, reviewed like code.
 *
 * The YAML shape is snake_case and strict (an unknown key is an error with a "did you mean" hint);
 * it maps to the camelCase `Campaign` the engine uses. Rules that need the catalogue, the traits or
 * the content files (references) are checked by `checkReferences`, not here.
 *
 * Semantics worth knowing when writing one:
 * - promotes: a product is promoted when it is listed in `gtins`, or when it matches every filter
 *   given among `categories`, `brands` and `brand_type`. Reward coupons promote nothing (they take
 *   money off a whole basket).
 * - audience: every condition given must hold. `cells` and `traits` are any-of lists; cells are
 *   `loyalty/volume` patterns (`national/*`, `*\/high`, `switcher/medium`) matched against the
 *   member's 9-cell in the promoted categories (the one they buy most of, when several match).
 *   `exclude` removes members matching any of its conditions (`churn_risk: false` removes the
 *   members not flagged, as `tiers: [key]` removes key members); the list job and the preview
 *   apply them with one SQL predicate (src/offers/audience.ts).
 * - offer.ladder: the discount by the member's volume in the category, deepest for heavy users
 *   (members whose volume is unclassified get the `low` step).
 * - budget is per list period; limits are redemptions per member.
 */

export const LOYALTIES = ['national', 'store', 'switcher', 'unclassified'] as const;
export const VOLUMES = ['low', 'medium', 'high', 'unclassified'] as const;
export const TIERS = ['key', 'regular', 'inactive'] as const;
export const STAGES = ['development', 'initial', 'stable', 'strategic'] as const;
export const OFFER_KINDS = [
  'percent_off',
  'amount_off',
  'price_point',
  'buy_x_get_y',
  'reward_coupon',
] as const;
export type OfferKind = (typeof OFFER_KINDS)[number];

const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected lowercase letters, digits, - and _ (max 64)');
const Code = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'expected lowercase letters, digits, _ . - (max 64)');

/**
 * A calendar date, YYYY-MM-DD (store-local), in the range the API takes (1900-01-01 … 9999-01-01).
 * A Date value is taken too: YAML 1.1 (a `%YAML 1.1` file) and an explicit `!!timestamp` read
 * `2026-11-01` as midnight UTC of that day, so its UTC date parts are the date that was written.
 * A Date at another time was written with a time of day, which a date field has no room for.
 */
export const LocalDate = z
  .union([z.string(), z.date()], { error: 'expected a date as YYYY-MM-DD' })
  .transform((v, ctx) => {
    if (typeof v === 'string') return v;
    if (Number.isNaN(v.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'expected a date as YYYY-MM-DD' });
      return z.NEVER;
    }
    const iso = v.toISOString();
    if (!iso.endsWith('T00:00:00.000Z')) {
      ctx.addIssue({ code: 'custom', message: `expected a date as YYYY-MM-DD, not a date and time (${iso})` });
      return z.NEVER;
    }
    return iso.slice(0, 10);
  })
  .refine(
    (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s),
    'expected a date as YYYY-MM-DD',
  )
  .refine((s) => {
    const t = Date.parse(`${s}T00:00:00Z`);
    return Number.isNaN(t) || inRange(t); // an unreadable date is the check above's to name
  }, 'expected a date between 1900-01-01 and 9999-01-01');

/** YAML reads unquoted digits as numbers (and drops leading zeros): both forms are accepted. */
const GtinRef = z.union([z.string(), z.int().nonnegative()]).transform((raw, ctx) => {
  // A number lost its leading zeros, which do not change a GTIN's check digit: pad it back.
  const text = typeof raw === 'number' ? String(raw).padStart(14, '0') : raw.trim();
  const result = parseGtin(text);
  if (!result.ok) {
    ctx.addIssue({ code: 'custom', message: `not a GTIN: ${result.message}` });
    return z.NEVER;
  }
  return result.gtin;
});

const percent = z
  .number({ error: 'expected a percentage between 0 and 100' })
  .gt(0, 'expected a percentage between 0 and 100')
  .max(100, 'expected a percentage between 0 and 100')
  // offers store it as numeric(12, 2): 12.345 would become 12.35 without a word
  .refine((p) => Math.abs(p * 100 - Math.round(p * 100)) < 1e-9, 'expected at most 2 decimals (e.g. 12.5)');
const cents = z.int({ error: 'expected whole cents' }).min(0, 'expected whole cents, not negative').max(100_000_000);
const positiveCents = z.int({ error: 'expected whole cents' }).min(1, 'expected more than 0 cents').max(100_000_000);
const days = z.int().min(1).max(366);
const probability = z.number().min(0).max(1);

/** `loyalty/volume` with `*` for any: `national/*`, `*\/high`. */
export const CellPattern = z.string().refine(
  (s) => {
    const [loyalty, volume, more] = s.split('/');
    return (
      more === undefined &&
      loyalty !== undefined &&
      volume !== undefined &&
      (loyalty === '*' || (LOYALTIES as readonly string[]).includes(loyalty)) &&
      (volume === '*' || (VOLUMES as readonly string[]).includes(volume))
    );
  },
  {
    error: (issue) =>
      `expected loyalty/volume with * for any (loyalty: ${LOYALTIES.join(', ')}; volume: ${VOLUMES.join(', ')}), not ${JSON.stringify(issue.input)}`,
  },
);

/** Does a member's cell match a pattern? (the SQL twin is in preview.ts) */
export function cellMatches(pattern: string, loyalty: string, volume: string): boolean {
  const [l, v] = pattern.split('/');
  return (l === '*' || l === loyalty) && (v === '*' || v === volume);
}

const Promotes = z
  .object({
    categories: z.array(Code).min(1).optional(),
    gtins: z.array(GtinRef).min(1).optional(),
    brands: z.array(z.string().min(1).max(100)).min(1).optional(),
    brand_type: z.enum(['national', 'store']).optional(),
  })
  .strict()
  .refine((p) => p.categories || p.gtins || p.brands || p.brand_type, {
    message: 'promote something: categories, gtins, brands or brand_type',
  });

const Exclude = z
  .object({
    cells: z.array(CellPattern).min(1).optional(),
    traits: z.array(Code).min(1).optional(),
    tiers: z.array(z.enum(TIERS)).min(1).optional(),
    stages: z.array(z.enum(STAGES)).min(1).optional(),
    /** Leaves out members whose churn flag equals this: true the flagged ones, false the others. */
    churn_risk: z.boolean().optional(),
  })
  .strict();

const Audience = z
  .object({
    cells: z.array(CellPattern).min(1).optional(),
    traits: z.array(Code).min(1).optional(),
    tiers: z.array(z.enum(TIERS)).min(1).optional(),
    stages: z.array(z.enum(STAGES)).min(1).optional(),
    /** Only members who qualify for a list ($25 a week); default true. */
    qualified_only: z.boolean().default(true),
    /** true: only churn-flagged members; false: only members not flagged; absent: both. */
    churn_risk: z.boolean().optional(),
    exclude: Exclude.optional(),
  }, {
    // `audience:` with nothing after it is null in YAML, not the absent key meaning everyone.
    error: (issue) =>
      issue.code === 'invalid_type' && issue.input === null
        ? 'empty — remove it to target everyone, or give cells, traits, tiers, stages, churn_risk or exclude'
        : undefined,
  })
  .strict();

const LADDER_LEVELS = ['low', 'medium', 'high'] as const;
const ladderOf = <T extends z.ZodType<number>>(step: T) =>
  z.object({ low: step, medium: step, high: step }).strict();

const common = {
  /** Units the member must buy in one transaction for the offer to apply. */
  min_qty: z.int().min(1).max(100).default(1),
  /** Most units discounted per redemption. */
  max_units: z.int().min(1).max(100).optional(),
};

const Offer = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        kind: z.literal('percent_off'),
        percent: percent.optional(),
        ladder: ladderOf(percent).optional(),
        ...common,
      })
      .strict(),
    z
      .object({
        kind: z.literal('amount_off'),
        amount_cents: positiveCents.optional(),
        ladder: ladderOf(positiveCents).optional(),
        ...common,
      })
      .strict(),
    z
      .object({
        kind: z.literal('price_point'),
        /** The member pays this per unit. */
        price_cents: cents.optional(),
        ladder: ladderOf(cents).optional(),
        ...common,
      })
      .strict(),
    z
      .object({
        kind: z.literal('buy_x_get_y'),
        buy: z.int().min(1).max(50),
        get: z.int().min(1).max(50),
        ...common,
      })
      .strict(),
    z
      .object({
        kind: z.literal('reward_coupon'),
        value_cents: positiveCents,
        /** The basket must reach this before the coupon applies. */
        min_spend_cents: cents.default(0),
      })
      .strict(),
  ],
  { error: () => `expected kind to be one of: ${OFFER_KINDS.join(', ')}` },
);

const Timing = z
  .object({
    /** The offer opens this many days before the member's predicted purchase. */
    open_days_before: z.int().min(0).max(60).optional(),
    /** And stays valid this many days (from opening, or from the list date for rewards). */
    valid_days: days.optional(),
    /** Members less likely than this to buy in the validity window get no offer. */
    min_purchase_probability: probability.optional(),
    /** A fixed validity window instead (rewards, seasonal offers). */
    fixed_window: z.object({ from: LocalDate, to: LocalDate }).strict().optional(),
  })
  .strict();

const Limits = z
  .object({
    /** Redemptions one member may make in one list period. */
    per_member_per_period: z.int().min(1).max(100).default(1),
    /** Redemptions one member may make over the whole campaign; absent: no limit. */
    per_member_total: z.int().min(1).max(10_000).optional(),
  })
  .strict();

const Budget = z
  .object({
    /** Most offers issued per list period. */
    max_offers: z.int().min(1).max(100_000_000).optional(),
    /** Most expected discount per list period, in cents. */
    max_cost_cents: positiveCents.optional(),
  })
  .strict();

const Funding = z
  .object({
    /** The manufacturer (catalogue id) paying `share` of every discount. */
    manufacturer: Code,
    share: z.number().gt(0, 'expected a share above 0 and at most 1').max(1, 'expected a share above 0 and at most 1'),
  })
  .strict();

export const CampaignFile = z
  .object({
    id: Id,
    name: z.string().min(1).max(120),
    description: z.string().max(2000).optional(),
    active: z.object({ from: LocalDate, to: LocalDate }).strict(),
    promotes: Promotes.optional(),
    audience: Audience.prefault({}),
    offer: Offer,
    timing: Timing.prefault({}),
    limits: Limits.prefault({}),
    budget: Budget.prefault({}),
    funding: Funding.optional(),
    /** Share of the audience kept as a control group (no offer), for measuring lift. */
    holdout_percent: z
      .number({ error: 'expected a percentage between 0 and 50' })
      .min(0, 'expected a percentage between 0 and 50')
      .max(50, 'expected a percentage between 0 and 50')
      .default(10),
    /** Higher first when offers compete for a list's slots or a stacking group. */
    priority: z.int().min(0).max(1000).default(50),
    stacking: z
      .object({
        /** Campaigns sharing a group compete: `exclusive` ones give a member at most one. */
        group: Code,
        mode: z.enum(['exclusive', 'combinable']).default('exclusive'),
      })
      .strict()
      .optional(),
    /** Content ids (rules/content) printed with the offer. */
    content: z.array(Code).min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (c.active.to < c.active.from) {
      issue(['active', 'to'], `ends before it starts (${c.active.to} is before ${c.active.from})`);
    }
    const o = c.offer;
    const reward = o.kind === 'reward_coupon';
    if (!reward && !c.promotes) issue(['promotes'], `a ${o.kind} offer must promote something`);
    if (reward && c.promotes) issue(['promotes'], 'a reward coupon applies to the whole basket: remove promotes');
    if ('ladder' in o && o.ladder) {
      const amount = o.kind === 'percent_off' ? o.percent : o.kind === 'amount_off' ? o.amount_cents : o.price_cents;
      const key = o.kind === 'percent_off' ? 'percent' : o.kind === 'amount_off' ? 'amount_cents' : 'price_cents';
      if (amount !== undefined) issue(['offer', key], `give either ${key} or ladder, not both`);
      // Heavy users get the deepest discount: steps may not overlap (a lower volume deeper).
      const depth = (v: number) => (o.kind === 'price_point' ? -v : v);
      for (let i = 1; i < LADDER_LEVELS.length; i++) {
        const lower = LADDER_LEVELS[i - 1]!;
        const upper = LADDER_LEVELS[i]!;
        if (depth(o.ladder[lower]) > depth(o.ladder[upper])) {
          issue(
            ['offer', 'ladder', upper],
            `ladder steps overlap: ${upper} (${o.ladder[upper]}) is shallower than ${lower} (${o.ladder[lower]}); ` +
              'heavier users must get at least as deep a discount',
          );
        }
      }
    } else if (
      (o.kind === 'percent_off' && o.percent === undefined) ||
      (o.kind === 'amount_off' && o.amount_cents === undefined) ||
      (o.kind === 'price_point' && o.price_cents === undefined)
    ) {
      const key = o.kind === 'percent_off' ? 'percent' : o.kind === 'amount_off' ? 'amount_cents' : 'price_cents';
      issue(['offer'], `a ${o.kind} offer needs ${key} or a ladder by volume`);
    }
    if ('max_units' in o && o.max_units !== undefined && o.max_units < o.min_qty && o.kind !== 'buy_x_get_y') {
      issue(['offer', 'max_units'], `must be at least min_qty (${o.min_qty})`);
    }
    const t = c.timing;
    if (t.fixed_window) {
      if (t.fixed_window.to < t.fixed_window.from) {
        issue(['timing', 'fixed_window', 'to'], `ends before it starts (${t.fixed_window.to} is before ${t.fixed_window.from})`);
      }
      for (const key of ['open_days_before', 'valid_days', 'min_purchase_probability'] as const) {
        if (t[key] !== undefined) issue(['timing', key], 'not with fixed_window: the window is fixed');
      }
    } else if (reward) {
      for (const key of ['open_days_before', 'min_purchase_probability'] as const) {
        if (t[key] !== undefined) {
          issue(['timing', key], 'a reward coupon is not tied to a predicted purchase: use valid_days or fixed_window');
        }
      }
    }
    if (c.funding && reward) issue(['funding'], 'a reward coupon is paid by the store: remove funding');
    // Cells are a member's 9-cell in a promoted category: a reward (no promotes) reaches nobody.
    const noCells = 'a reward coupon promotes no category, so no member has a cell in it: use traits, tiers or stages';
    if (reward && c.audience.cells) issue(['audience', 'cells'], noCells);
    if (reward && c.audience.exclude?.cells) issue(['audience', 'exclude', 'cells'], noCells);
  }, {
    // Fields against each other only once each field is valid: one mistake, one message.
    when: (payload) => payload.issues.length === 0,
  })
  .transform((c) => {
    const o = c.offer;
    const ladder = 'ladder' in o && o.ladder ? { low: o.ladder.low, medium: o.ladder.medium, high: o.ladder.high } : null;
    const flat =
      o.kind === 'percent_off' ? o.percent : o.kind === 'amount_off' ? o.amount_cents : o.kind === 'price_point' ? o.price_cents : undefined;
    return {
      id: c.id,
      name: c.name,
      description: c.description ?? null,
      activeFrom: c.active.from,
      activeTo: c.active.to,
      promotes: c.promotes
        ? {
            categories: [...new Set(c.promotes.categories ?? [])],
            gtins: [...new Set(c.promotes.gtins ?? [])],
            brands: [...new Set(c.promotes.brands ?? [])],
            brandType: c.promotes.brand_type ?? null,
          }
        : null,
      audience: {
        cells: c.audience.cells ?? [],
        traits: c.audience.traits ?? [],
        tiers: c.audience.tiers ?? [],
        stages: c.audience.stages ?? [],
        qualifiedOnly: c.audience.qualified_only,
        churnRisk: c.audience.churn_risk ?? null,
        exclude: {
          cells: c.audience.exclude?.cells ?? [],
          traits: c.audience.exclude?.traits ?? [],
          tiers: c.audience.exclude?.tiers ?? [],
          stages: c.audience.exclude?.stages ?? [],
          churnRisk: c.audience.exclude?.churn_risk ?? null,
        },
      },
      offer: {
        kind: o.kind,
        /** percent (percent_off), cents off (amount_off), price in cents (price_point), by volume. */
        ladder: ladder ?? (flat !== undefined ? { low: flat, medium: flat, high: flat } : null),
        laddered: ladder !== null,
        buy: o.kind === 'buy_x_get_y' ? o.buy : null,
        get: o.kind === 'buy_x_get_y' ? o.get : null,
        valueCents: o.kind === 'reward_coupon' ? o.value_cents : null,
        minSpendCents: o.kind === 'reward_coupon' ? o.min_spend_cents : null,
        minQty: o.kind === 'reward_coupon' ? 1 : o.min_qty,
        maxUnits: o.kind === 'reward_coupon' ? null : (o.max_units ?? null),
      },
      timing: c.timing.fixed_window
        ? ({ mode: 'fixed', from: c.timing.fixed_window.from, to: c.timing.fixed_window.to } as const)
        : ({
            mode: 'predicted',
            openDaysBefore: o.kind === 'reward_coupon' ? 0 : (c.timing.open_days_before ?? 3),
            validDays: c.timing.valid_days ?? 14,
            minPurchaseProbability: c.timing.min_purchase_probability ?? 0,
          } as const),
      limits: {
        perMemberPerPeriod: c.limits.per_member_per_period,
        perMemberTotal: c.limits.per_member_total ?? null,
      },
      budget: { maxOffers: c.budget.max_offers ?? null, maxCostCents: c.budget.max_cost_cents ?? null },
      funding: c.funding ? { manufacturerId: c.funding.manufacturer, share: c.funding.share } : null,
      holdoutPercent: c.holdout_percent,
      priority: c.priority,
      stacking: c.stacking ? { group: c.stacking.group, mode: c.stacking.mode } : null,
      content: c.content ?? [],
    };
  });

export type CampaignRules = z.output<typeof CampaignFile>;

/** A validated campaign with where it came from. */
export type Campaign = CampaignRules & {
  /** The file it was read from, as given to the loader (`rules/campaigns/x.yaml`). */
  file: string;
  /** SHA-256 of the file's text: every issued offer records it. */
  fileHash: string;
};

/** Is the campaign live on a store-local date? */
export function isLiveOn(c: Pick<Campaign, 'activeFrom' | 'activeTo'>, date: string): boolean {
  return c.activeFrom <= date && date <= c.activeTo;
}
