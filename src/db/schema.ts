import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Timestamps are written as a Date (the clock's) or `timestamptz(text)` (an instant as given) and
 * read back as Date. Not as a string: postgres.js sends a parameter PostgreSQL types timestamptz
 * through Date, so a string with microseconds lost them on PostgreSQL (kept on PGlite).
 */
type Timestamp = ColumnType<Date, Date, Date>;
type DefaultedTimestamp = ColumnType<Date, Date | undefined, Date>;
/** The id of the transaction that last wrote the row (xid8 as text), set by the database only. */
type ChangeXid = ColumnType<string, never, never>;
/** bigint and numeric are parsed to JS numbers by both drivers (ids stay below 2^53). */
type Int8 = ColumnType<number, number | string, number | string>;
type Numeric = ColumnType<number, number | string, number | string>;
/** An identity column: optional on insert. */
type Serial = ColumnType<number, number | string | undefined, number | string>;

export interface StoresTable {
  id: number;
  name: string;
  time_zone: string;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

export interface TerminalsTable {
  store_id: number;
  id: string;
  created_at: DefaultedTimestamp;
}

export interface CategoriesTable {
  id: string;
  name: string;
  parent_id: string | null;
  updated_at: DefaultedTimestamp;
}

export interface ManufacturersTable {
  id: string;
  name: string;
  updated_at: DefaultedTimestamp;
}

export type BrandType = 'national' | 'store';

export interface ProductsTable {
  gtin: string;
  name: string | null;
  category_id: string | null;
  brand: string | null;
  brand_type: BrandType | null;
  manufacturer_id: string | null;
  size: string | null;
  price_cents: number | null;
  known: Generated<boolean>;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

export type MemberStatus = 'registered' | 'unregistered' | 'anonymous';

export interface MembersTable {
  id: Serial;
  member_number: string | null;
  card_number: string | null;
  status: MemberStatus;
  home_store_id: number | null;
  household_size: number | null;
  has_dog: boolean | null;
  has_cat: boolean | null;
  has_baby: boolean | null;
  enrolled_on: ColumnType<string | null, string | null, string | null>;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
  changed_xid: ChangeXid;
}

export interface MemberContactsTable {
  member_id: Int8;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  phone: string | null;
  postal_code: string | null;
  updated_at: DefaultedTimestamp;
}

/**
 * Who held which card when (migration 20261125_18): `from_at <= instant < to_at`, `to_at` null
 * while held. A card's first holder holds it from '-infinity' (read it as text: no Date has it).
 */
export interface MemberCardsTable {
  member_id: Int8;
  card_number: string;
  from_at: Timestamp;
  to_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export type BasketSource = 'pos' | 'import' | 'checkout';

export interface BasketsTable {
  member_id: Int8;
  id: Serial;
  store_id: number | null;
  terminal_id: string;
  txn_id: string;
  ts: Timestamp;
  total_cents: Int8;
  line_count: number;
  content_hash: string;
  source: BasketSource;
  created_at: DefaultedTimestamp;
}

export interface BasketLinesTable {
  member_id: Int8;
  basket_id: Int8;
  line_no: number;
  gtin: string;
  qty: Numeric;
  unit_price_cents: number | null;
  line_discount_cents: number;
}

export type Role = 'admin' | 'marketer' | 'vendor' | 'pos';

export interface ApiKeysTable {
  id: Serial;
  name: string;
  prefix: string;
  key_hash: string;
  role: Role;
  store_id: number | null;
  manufacturer_id: string | null;
  created_at: DefaultedTimestamp;
  revoked_at: Timestamp | null;
}

export interface SimRunsTable {
  id: Serial;
  seed: number;
  members: number;
  stores: number;
  weeks: number;
  end_date: ColumnType<string, string, string>;
  time_zone: string;
  basket_lines: Int8;
  created_at: DefaultedTimestamp;
  /** Last day `sim run` drove through the API (null: none yet). */
  simulated_through: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface SimMemberTruthTable {
  member_id: Int8;
  household_size: number;
  has_dog: boolean;
  has_cat: boolean;
  has_baby: boolean;
  vegetable_lover: boolean;
  weekly_spend_cents: number;
  share_of_wallet: number;
  visit_mean_days: number;
  churn_onset_date: ColumnType<string | null, string | null, string | null>;
}

export interface SimMemberCategoryTruthTable {
  member_id: Int8;
  category_id: string;
  brand_pref: 'national' | 'store' | 'switcher';
  volume_level: 'low' | 'medium' | 'high';
  regular: boolean;
}

export interface SimMemberProductTruthTable {
  member_id: Int8;
  gtin: string;
  mean_gap_days: number;
  gap_shape: number;
  abandoned_on: ColumnType<string | null, string | null, string | null>;
}

export type Loyalty = 'national' | 'store' | 'switcher' | 'unclassified';
export type Volume = 'low' | 'medium' | 'high' | 'unclassified';
export type Tier = 'key' | 'regular' | 'inactive';
export type Stage = 'development' | 'initial' | 'stable' | 'strategic';
export type ChurnReason = 'visit_gap' | 'spend_drop';

/** The 9-cell per member × category over the look-back (src/analytics/cells.ts). */
export interface MemberCategoryCellsTable {
  member_id: Int8;
  category_id: string;
  purchase_days: number;
  units: Numeric;
  units_per_week: number;
  spend_cents: Int8;
  store_share: number | null;
  loyalty: Loyalty;
  volume: Volume;
}

/** Qualification, tier, share of wallet, stage and churn per member (src/analytics/members.ts). */
export interface MemberScoresTable {
  member_id: Int8;
  visit_days: number;
  spend_cents: Int8;
  weekly_spend_cents: number;
  qualified: boolean;
  tier: Tier;
  share_of_wallet: number;
  stage: Stage;
  last_visit_date: ColumnType<string | null, string | null, string | null>;
  days_since_last_visit: number | null;
  mean_visit_gap_days: number | null;
  visit_gap_probability: number | null;
  recent_spend_cents: Int8;
  prior_spend_cents: Int8;
  churn_risk: boolean;
  churn_reason: ChurnReason | null;
}

export interface MemberTraitsTable {
  member_id: Int8;
  trait: string;
}

export interface CategoryAssociationsTable {
  antecedent_id: string;
  consequent_id: string;
  baskets: number;
  support: number;
  confidence: number;
  lift: number;
}

/** As of which instant each derived table was computed. */
export interface AnalyticsSnapshotsTable {
  component: string;
  as_of: Timestamp;
  time_zone: string;
}

/** Finished runs of the jobs (migration 12, src/jobs/job-runs.ts). */
export interface JobRunsTable {
  id: number;
  kind: JobKind;
  /** The instant the run is for (analyse: history before it; lists: its "today"). */
  as_of: Timestamp;
  trigger: JobTrigger;
  /** `running` from its start (see src/jobs/job-runs.ts for a run whose process died). */
  status: 'running' | 'done' | 'failed';
  started_at: Timestamp;
  finished_at: Timestamp | null;
  /** Touched every few seconds by the process running it, while it runs. */
  heartbeat_at: Timestamp | null;
  /** The job's summary (analyse: the API's AnalyseResult; lists: its ListsJobResult), as JSON; null when it failed. */
  summary: ColumnType<unknown, string | null, string | null>;
  error: string | null;
  /** What the run was asked for, as JSON (lists: the period, or null for the current one; regenerate). */
  params: ColumnType<unknown, string | null, string | null>;
}
export type JobKind = 'analyse' | 'lists';
export type JobTrigger = 'schedule' | 'start' | 'api' | 'cli';

/** Pooled priors of the repurchase-cycle model (src/analytics/cycles.ts). */
export interface CyclePriorsTable {
  scope: 'category' | 'product' | 'global';
  key: string;
  mean_gap_days: number;
  gap_shape: number;
  pairs: number;
  as_of: Timestamp;
}

/** Repurchase cycle per member × product (src/analytics/cycles.ts). */
export interface MemberProductCyclesTable {
  member_id: Int8;
  gtin: string;
  category_id: string | null;
  purchase_days: number;
  first_purchase_date: ColumnType<string, string, string>;
  last_purchase_date: ColumnType<string, string, string>;
  observed_mean_gap_days: number | null;
  prior_mean_gap_days: number;
  mean_gap_days: number;
  gap_shape: number;
  next_expected_date: ColumnType<string, string, string>;
  basket_share: number;
  as_of: Timestamp;
}

/** Repurchase cycle per member × category (src/analytics/cycles.ts). */
export type MemberCategoryCyclesTable = Omit<MemberProductCyclesTable, 'gtin' | 'category_id'> & {
  category_id: string;
};

/** Back-test snapshot that calibration learns from (src/analytics/cycles.ts, calibrate.ts). */
export interface MemberProductBacktestTable {
  member_id: Int8;
  gtin: string;
  purchase_days: number;
  elapsed_days: number;
  mean_gap_days: number;
  gap_shape: number;
  basket_share: number;
  raw_prob: number;
  bought: boolean;
  cutoff_date: ColumnType<string, string, string>;
  window_days: number;
  as_of: Timestamp;
}

/** Monotone calibration of window probabilities (src/analytics/calibrate.ts). */
export interface PredictionCalibrationTable {
  count_bucket: number;
  ratio_bucket: number;
  bin: number;
  raw_from: number;
  raw_to: number;
  mean_raw: number;
  pairs: number;
  bought: number;
  calibrated_prob: number;
  window_days: number;
  cutoff_date: ColumnType<string, string, string>;
  as_of: Timestamp;
}

/** Next-basket ranking per member (src/analytics/rank.ts). */
export interface MemberProductScoresTable {
  member_id: Int8;
  gtin: string;
  rank: number;
  score: number;
  predicted_date: ColumnType<string, string, string>;
  prob: number;
  window_days: number;
  as_of: Timestamp;
}

type DateText = ColumnType<string, string, string>;

/** One list period run (src/lists/period.ts). */
export interface ListPeriodsTable {
  period_start: DateText;
  period_end: DateText;
  analytics_as_of: Timestamp | null;
  rules_hash: string;
  status: 'running' | 'done';
  lists: ColumnType<number, number | undefined, number>;
  offers: ColumnType<number, number | undefined, number>;
  controls: ColumnType<number, number | undefined, number>;
  started_at: Timestamp;
  finished_at: Timestamp | null;
}

/** A campaign's terms as offers were issued under them. */
export interface CampaignTermsTable {
  campaign_id: string;
  rule_hash: string;
  name: string;
  spec: ColumnType<unknown, string, string>;
  gtins: string[];
  created_at: Timestamp;
}

export interface ListsTable {
  member_id: Int8;
  id: ColumnType<number, number | string | undefined, never>;
  period_start: DateText;
  period_end: DateText;
  store_id: number | null;
  content: ColumnType<unknown, string, string>;
  created_at: Timestamp;
  voided_at: Timestamp | null;
}

export type OfferKind = 'percent_off' | 'amount_off' | 'price_point' | 'buy_x_get_y' | 'reward';

export interface OffersTable {
  member_id: Int8;
  id: ColumnType<number, number | string | undefined, never>;
  list_id: Int8 | null;
  campaign_id: string;
  rule_hash: string;
  period_start: DateText;
  control: boolean;
  kind: OfferKind;
  value: Numeric;
  min_qty: number;
  max_units: number | null;
  min_spend_cents: ColumnType<number, number | undefined, number>;
  category_id: string | null;
  volume: string | null;
  valid_from: DateText;
  valid_to: DateText;
  predicted_date: DateText | null;
  probability: number;
  expected_cost_cents: number;
  expected_value_cents: number;
  funded_by: string | null;
  funded_share: number;
  uses_allowed: number;
  uses: ColumnType<number, number | undefined, number>;
  status: 'live' | 'voided';
  created_at: Timestamp;
  updated_at: Timestamp;
  changed_xid: ChangeXid;
}

export interface CheckoutCommitsTable {
  store_id: number;
  terminal_id: string;
  txn_id: string;
  kind: 'sale' | 'void' | 'return';
  member_id: Int8;
  basket_id: Int8 | null;
  request_hash: string;
  response: ColumnType<unknown, string, string>;
  created_at: Timestamp;
}

export interface OfferRedemptionsTable {
  member_id: Int8;
  offer_id: Int8;
  store_id: number;
  terminal_id: string;
  txn_id: string;
  basket_id: Int8;
  discount_cents: number;
  allocations: ColumnType<unknown, string, string>;
  ts: Timestamp;
  offline: boolean;
  reversed_cents: ColumnType<number, number | undefined, number>;
  use_restored: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
}

export interface ReturnedUnitsTable {
  store_id: number;
  terminal_id: string;
  txn_id: string;
  line_no: number;
  /** The return's own key (store, terminal, txn). */
  return_store_id: number;
  return_terminal_id: string;
  return_txn_id: string;
  qty: Numeric;
  discount_cents: number;
}

export interface OfferReservationsTable {
  offer_id: Int8;
  member_id: Int8;
  store_id: number;
  terminal_id: string;
  txn_id: string;
  expires_at: Timestamp;
}

export type ConflictReason =
  | 'already_used' | 'expired' | 'not_yet_valid' | 'voided' | 'unknown_offer' | 'other_member'
  /** Applied offline, but the offer does not apply to the posted basket (discount unknown: 0). */
  | 'below_min_spend' | 'below_min_qty' | 'wrong_product';

export interface RedemptionConflictsTable {
  store_id: number;
  terminal_id: string;
  txn_id: string;
  offer_id: Int8;
  member_id: Int8;
  reason: ConflictReason;
  discount_cents: number;
  ts: Timestamp;
  created_at: Timestamp;
  acknowledged_at: Timestamp | null;
  /** The API key that acknowledged it. */
  acknowledged_by: Int8 | null;
}

export interface DB {
  stores: StoresTable;
  terminals: TerminalsTable;
  categories: CategoriesTable;
  manufacturers: ManufacturersTable;
  products: ProductsTable;
  members: MembersTable;
  member_contacts: MemberContactsTable;
  member_cards: MemberCardsTable;
  baskets: BasketsTable;
  basket_lines: BasketLinesTable;
  api_keys: ApiKeysTable;
  sim_runs: SimRunsTable;
  sim_member_truth: SimMemberTruthTable;
  sim_member_category_truth: SimMemberCategoryTruthTable;
  sim_member_product_truth: SimMemberProductTruthTable;
  cycle_priors: CyclePriorsTable;
  member_product_cycles: MemberProductCyclesTable;
  member_category_cycles: MemberCategoryCyclesTable;
  member_product_backtest: MemberProductBacktestTable;
  prediction_calibration: PredictionCalibrationTable;
  member_product_scores: MemberProductScoresTable;
  member_category_cells: MemberCategoryCellsTable;
  member_scores: MemberScoresTable;
  member_traits: MemberTraitsTable;
  category_associations: CategoryAssociationsTable;
  analytics_snapshots: AnalyticsSnapshotsTable;
  job_runs: JobRunsTable;
  list_periods: ListPeriodsTable;
  campaign_terms: CampaignTermsTable;
  lists: ListsTable;
  offers: OffersTable;
  checkout_commits: CheckoutCommitsTable;
  offer_redemptions: OfferRedemptionsTable;
  offer_reservations: OfferReservationsTable;
  returned_units: ReturnedUnitsTable;
  redemption_conflicts: RedemptionConflictsTable;
}

export type Store = Selectable<StoresTable>;
export type NewStore = Insertable<StoresTable>;
export type Product = Selectable<ProductsTable>;
export type Member = Selectable<MembersTable>;
export type MemberUpdate = Updateable<MembersTable>;
export type ApiKey = Selectable<ApiKeysTable>;
