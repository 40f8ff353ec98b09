import { z } from 'zod';
import { parseYaml } from './yaml.ts';

export { RuleFileError, type RuleFileIssue } from './yaml.ts';

/**
 * Analytics settings (`rules/settings.yaml`) and household trait rules (`rules/traits.yaml`).
 *
 * The parsers take the file's text, not a path, so they run on any runtime (Node reads the file,
 * a Worker gets it from its rules source). Every key is optional: an absent key keeps its default,
 * an empty file gives all defaults. Unknown keys are errors, because a misspelt key that silently
 * kept its default is worse than a refused file. Errors name the file, the line and the field.
 */

export const SETTINGS_FILE = 'rules/settings.yaml';
export const TRAITS_FILE = 'rules/traits.yaml';

const share = z.number().min(0).max(1);
const weeks = z.int().min(1).max(520);
const cents = z.int().min(0).max(100_000_000);
/** Trait and category ids, as the catalogue spells category ids. */
const Code = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'lowercase letters, digits, _ . - (max 64)');

const Cells = z
  .object({
    /** Weeks of history the 9-cell looks at. */
    lookback_weeks: weeks.default(52),
    /** Store-brand share of units at or below which a member is national-brand loyal. */
    national_max_store_share: share.default(0.2),
    /** Store-brand share of units at or above which a member is store-brand loyal. */
    store_min_store_share: share.default(0.8),
    /** Fewer purchase days than this in the category: 'unclassified', not guessed. */
    min_purchase_days: z.int().min(1).max(366).default(3),
  })
  .strict()
  .refine((s) => s.national_max_store_share < s.store_min_store_share, {
    path: ['store_min_store_share'],
    message: 'must be greater than national_max_store_share',
    // compare only valid values: one bad value is one error, not two
    when: (payload) => payload.issues.length === 0,
  });

const Qualification = z
  .object({
    weeks: weeks.default(8),
    /** Average weekly spend over `weeks` that earns a shopping list ($25 in the case). */
    min_weekly_spend_cents: cents.default(2500),
  })
  .strict();

const Tiers = z
  .object({
    /** Share of spending members (by look-back spend) who are key members. */
    key_member_top_share: z.number().gt(0).max(1).default(0.15),
  })
  .strict();

const ShareOfWallet = z
  .object({
    /**
     * Percentile of the loyalty score taken as "the whole wallet": the top 5% of households are
     * assumed to do (nearly) all their grocery shopping with us. Set it from a survey of the
     * chain's own members where one exists: it fixes the scale of every estimate.
     */
    full_wallet_percentile: z.number().gt(0).lt(1).default(0.95),
    /** A category counts as a recurring need of the member from this many purchase days. */
    min_category_purchase_days: z.int().min(1).max(366).default(6),
    /** Weight of the visit score against the need score (the rest). */
    visit_weight: share.default(0.333),
    /** Rates are per week observed, but never over fewer weeks than this (new members). */
    min_observed_weeks: weeks.default(8),
  })
  .strict();

const Stage = z
  .object({
    /** Below this share of wallet: 'development' (no or negligible spend). */
    development_below: share.default(0.05),
    /** From here 'stable' (below: 'initial'). */
    stable_from: share.default(0.5),
    /** From here 'strategic'. */
    strategic_from: share.default(0.8),
  })
  .strict()
  .refine((s) => s.development_below < s.stable_from, {
    path: ['stable_from'],
    message: 'must be greater than development_below',
    when: (payload) => payload.issues.length === 0,
  })
  .refine((s) => s.stable_from < s.strategic_from, {
    path: ['strategic_from'],
    message: 'must be greater than stable_from',
    when: (payload) => payload.issues.length === 0,
  });

const Churn = z
  .object({
    /** Visit days needed (within the look-back before the last visit) to know a rhythm. */
    min_visits: z.int().min(2).max(1000).default(5),
    /** Flag when the current gap is this improbable under the member's own rhythm. */
    max_gap_probability: z.number().gt(0).lt(1).default(0.05),
    /** Recent period compared with the one before it. */
    spend_weeks: weeks.default(8),
    /** Flag when recent spend is below this share of the period before. */
    spend_drop_below: z.number().gt(0).lt(1).default(0.4),
    /** Only members who spent at least this much in the period before can drop. */
    min_prior_spend_cents: cents.default(4000),
  })
  .strict();

const Associations = z
  .object({
    lookback_weeks: weeks.default(26),
    /** Share of baskets holding both categories. */
    min_support: share.default(0.005),
    /** And at least this many baskets, so tiny chains do not report noise. */
    min_pair_baskets: z.int().min(1).default(10),
  })
  .strict();

export const WEEKDAYS = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** How the store names itself on printed and PDF lists. */
const Branding = z
  .object({
    chain_name: z.string().min(1).max(80).default('Cadence Market'),
    tagline: z.string().max(120).default('Your personal shopping list'),
    /** Accent colour of headings and rules, as #rrggbb. */
    color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'expected a colour as #rrggbb')
      .default('#1f6f43'),
    /** Printed at the bottom of every list (opening hours, the club's phone line…). */
    footer: z.string().max(300).default('Thank you for shopping with us.'),
  })
  .strict();

/** The personal shopping lists (issue 6): how often, on which day, how many offers. */
const Lists = z
  .object({
    /** Days between two lists of a member (every other week in the case). */
    period_days: z.int().min(1).max(91).default(14),
    /** Weekday the lists are produced (and a period starts), in the chain's time zone. */
    weekday: z.enum(WEEKDAYS).default('monday'),
    /** Most offers one list carries, across all campaigns. */
    max_offers: z.int().min(1).max(100).default(12),
    /** Predicted products printed under "Due soon". */
    due_soon_items: z.int().min(0).max(40).default(10),
    /** GS1 company prefix of the chain's coupons (AI 255 Global Coupon Numbers): 6–12 digits. */
    coupon_company_prefix: z.string().regex(/^\d{6,12}$/, 'expected a GS1 company prefix of 6–12 digits').default('0614141'),
    /** Paper of printed lists and PDFs. */
    paper: z.enum(['letter', 'a4']).default('letter'),
    branding: Branding.prefault({}),
  })
  .strict();

/** The YAML shape (snake_case, as marketers write it), mapped to the camelCase the code uses. */
export const SettingsFile = z
  .object({
    cells: Cells.prefault({}),
    qualification: Qualification.prefault({}),
    tiers: Tiers.prefault({}),
    share_of_wallet: ShareOfWallet.prefault({}),
    stage: Stage.prefault({}),
    churn: Churn.prefault({}),
    associations: Associations.prefault({}),
    lists: Lists.prefault({}),
  })
  .strict()
  .transform((f) => ({
    cells: {
      lookbackWeeks: f.cells.lookback_weeks,
      nationalMaxStoreShare: f.cells.national_max_store_share,
      storeMinStoreShare: f.cells.store_min_store_share,
      minPurchaseDays: f.cells.min_purchase_days,
    },
    qualification: {
      weeks: f.qualification.weeks,
      minWeeklySpendCents: f.qualification.min_weekly_spend_cents,
    },
    tiers: { keyMemberTopShare: f.tiers.key_member_top_share },
    shareOfWallet: {
      fullWalletPercentile: f.share_of_wallet.full_wallet_percentile,
      minCategoryPurchaseDays: f.share_of_wallet.min_category_purchase_days,
      visitWeight: f.share_of_wallet.visit_weight,
      minObservedWeeks: f.share_of_wallet.min_observed_weeks,
    },
    stage: {
      developmentBelow: f.stage.development_below,
      stableFrom: f.stage.stable_from,
      strategicFrom: f.stage.strategic_from,
    },
    churn: {
      minVisits: f.churn.min_visits,
      maxGapProbability: f.churn.max_gap_probability,
      spendWeeks: f.churn.spend_weeks,
      spendDropBelow: f.churn.spend_drop_below,
      minPriorSpendCents: f.churn.min_prior_spend_cents,
    },
    associations: {
      lookbackWeeks: f.associations.lookback_weeks,
      minSupport: f.associations.min_support,
      minPairBaskets: f.associations.min_pair_baskets,
    },
    lists: {
      periodDays: f.lists.period_days,
      weekday: f.lists.weekday,
      maxOffers: f.lists.max_offers,
      dueSoonItems: f.lists.due_soon_items,
      couponCompanyPrefix: f.lists.coupon_company_prefix,
      paper: f.lists.paper,
      branding: {
        chainName: f.lists.branding.chain_name,
        tagline: f.lists.branding.tagline,
        color: f.lists.branding.color,
        footer: f.lists.branding.footer,
      },
    },
  }));
export type Settings = z.output<typeof SettingsFile>;

/**
 * A household trait as a rule over categories: a member has it when, within the last
 * `within_weeks`, they bought any of `categories` on at least `min_purchase_days` days, and —
 * when given — those categories are at least `min_spend_share` of their spend and they are among
 * the `top_share` of spending members by that share. All conditions given must hold.
 */
const TraitRuleFile = z
  .object({
    label: z.string().min(1).max(200).optional(),
    categories: z.array(Code).min(1).max(100),
    within_weeks: weeks.default(26),
    min_purchase_days: z.int().min(1).max(366).default(1),
    min_spend_share: share.optional(),
    top_share: z.number().gt(0).max(1).optional(),
  })
  .strict();

export const TraitsFile = z
  .object({ traits: z.record(Code, TraitRuleFile).prefault({}) })
  .strict()
  .transform((f) =>
    Object.entries(f.traits).map(([id, r]) => ({
      id,
      label: r.label ?? null,
      categories: [...new Set(r.categories)],
      withinWeeks: r.within_weeks,
      minPurchaseDays: r.min_purchase_days,
      minSpendShare: r.min_spend_share ?? null,
      topShare: r.top_share ?? null,
    })),
  );
export type TraitRule = z.output<typeof TraitsFile>[number];

/** Parses `rules/settings.yaml`; throws `RuleFileError` naming file, line and field. */
export function parseSettings(text: string, file = SETTINGS_FILE): Settings {
  return parseRuleFile(SettingsFile, text, file);
}

/** Parses `rules/traits.yaml`; throws `RuleFileError` naming file, line and field. */
export function parseTraits(text: string, file = TRAITS_FILE): TraitRule[] {
  return parseRuleFile(TraitsFile, text, file);
}

/** Every default, as an empty settings file gives them. */
export const defaultSettings: Settings = SettingsFile.parse({});

/** The traits shipped in rules/traits.yaml, for a chain without that file. */
export const defaultTraits: TraitRule[] = TraitsFile.parse({
  traits: {
    dog_owner: {
      label: 'Dog in the household',
      categories: ['dog_food'],
      within_weeks: 52,
      min_purchase_days: 2,
    },
    cat_owner: {
      label: 'Cat in the household',
      categories: ['cat_food'],
      within_weeks: 52,
      min_purchase_days: 2,
    },
    baby: {
      label: 'Baby in the household',
      categories: ['diapers', 'baby_food'],
      min_purchase_days: 2,
    },
    vegetable_lover: {
      label: 'Heavy fresh-vegetable buyer',
      categories: ['vegetables'],
      min_purchase_days: 4,
      min_spend_share: 0.05,
      top_share: 0.25,
    },
  },
});

function parseRuleFile<S extends z.ZodType>(schema: S, text: string, file: string): z.output<S> {
  return parseYaml(schema, text, file).value;
}
