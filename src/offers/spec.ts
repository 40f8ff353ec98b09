import type { OfferKind } from '../db/schema.ts';

/**
 * A campaign as the assignment engine sees it: the rule file's meaning, normalized. The rules
 * loader (src/rules) turns each valid `rules/campaigns/*.yaml` into one of these; tests build them
 * directly. Runtime-free.
 */
export interface CampaignSpec {
  id: string;
  name: string;
  /** Hash of the rule file's content: offers record the terms they were issued under. */
  hash: string;
  /** Inclusive local dates; null = open-ended. */
  activeFrom: string | null;
  activeTo: string | null;
  /** What it promotes: products matching every given filter (empty lists = no filter). */
  promotes: {
    categories: string[];
    gtins: string[];
    brands: string[];
    brandType: 'national' | 'store' | null;
  };
  audience: {
    /**
     * Cells in the promoted categories as loyalty and volume, either one `*` for any (the rule
     * file's `national/*`). Empty: anyone who buys the category.
     */
    cells: Array<{ loyalty: string; volume: string }>;
    /** Any of these traits (empty: no condition). */
    traits: string[];
    tiers: Array<'key' | 'regular' | 'inactive'>;
    stages: Array<'development' | 'initial' | 'stable' | 'strategic'>;
    qualifiedOnly: boolean;
    /** true: only churn-flagged members; false: only others; null: both. */
    churnRisk: boolean | null;
    /** Members matching any of these are left out. */
    exclude: {
      cells: Array<{ loyalty: string; volume: string }>;
      traits: string[];
      tiers: Array<'key' | 'regular' | 'inactive'>;
      stages: Array<'development' | 'initial' | 'stable' | 'strategic'>;
      /** true: leave out churn-flagged members; false: leave out members not flagged; null: neither. */
      churnRisk: boolean | null;
    };
  };
  offer: {
    kind: OfferKind;
    /**
     * The offer's value by the member's volume cell in the category (percent for percent_off,
     * cents for amount_off / price_point / reward, free units for buy_x_get_y). A flat offer has
     * the same value everywhere; `unclassified` covers members too new to rank.
     */
    ladder: { low: number; medium: number; high: number; unclassified: number };
    /** Units to buy for the offer to apply (buy_x_get_y: the X). */
    minQty: number;
    /** Most units the discount covers in one basket; null = no cap. */
    maxUnits: number | null;
    /** Rewards: the basket must reach this before the coupon applies. */
    minSpendCents: number;
  };
  timing:
    | {
        kind: 'predicted';
        /** The offer opens this many days before the member's predicted purchase. */
        openDaysBefore: number;
        validDays: number;
        /** Issue only when the purchase probability inside the window reaches this. */
        minProbability: number;
      }
    | {
        /**
         * Not tied to a prediction (rewards, seasonal offers): valid from the period start for
         * `validDays`, or over the fixed window [from, to] where it meets the period.
         */
        kind: 'fixed';
        validDays: number;
        from: string | null;
        to: string | null;
      };
  limits: {
    /** Redemptions one member may make of one offer (one offer per member and period). */
    usesPerOffer: number;
    /** Redemptions one member may make over the whole campaign; null = no limit. */
    perMemberTotal: number | null;
  };
  budget: { maxOffers: number | null; maxCostCents: number | null };
  funding: { manufacturerId: string | null; share: number };
  /** Percent of the audience held out as a control group (0–50), deterministic per campaign. */
  holdoutPercent: number;
  /** Higher first. */
  priority: number;
  /** Offers in the same exclusive group do not stack: a member gets the best one. */
  stackingGroup: string | null;
  /** Content ids (rules/content) printed with the offer. */
  content: string[];
}
