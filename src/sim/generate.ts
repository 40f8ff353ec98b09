import { formatDate, localTimestamp } from './calendar.ts';
import type { SimCategory, SimManufacturer, SimProduct } from './catalogue.ts';
import { MemberSim, type SimVisit } from './behaviour.ts';
import { BASKETS_CSV_COLUMNS, MEMBERS_CSV_COLUMNS, PRODUCTS_CSV_COLUMNS, csvLine } from './csv.ts';
import { createMember, type BrandPref, type SimMember, type VolumeLevel } from './members.ts';
import { terminalId, type SimStore } from './stores.ts';
import { SimWorld, type SimOptions } from './world.ts';
import { expectedVolume, volumeCuts, volumeLevelOf } from './volume-truth.ts';

/** Members `from` (inclusive) to `to` (exclusive) by index; default all. */
export interface MemberRange {
  from?: number;
  to?: number;
}

export interface CsvOptions extends MemberRange {
  /** Yield the header line first (default true). */
  header?: boolean;
}

/** One scanned line, as the baskets CSV carries it (plus the member index, for joins in tests). */
export interface SimBasketLine {
  memberIndex: number;
  card: string;
  txn: string;
  ts: string;
  storeId: number;
  terminalId: string;
  gtin: string;
  qty: number;
  unitPriceCents: number;
  lineDiscountCents: number;
}

/** Row of `sim_member_truth`. */
export interface SimMemberTruthRow {
  member_number: string;
  household_size: number;
  has_dog: boolean;
  has_cat: boolean;
  has_baby: boolean;
  vegetable_lover: boolean;
  weekly_spend_cents: number;
  share_of_wallet: number;
  visit_mean_days: number;
  churn_onset_date: string | null;
}

/** Row of `sim_member_category_truth`. */
export interface SimMemberCategoryTruthRow {
  member_number: string;
  category_id: string;
  brand_pref: BrandPref;
  /**
   * The 9-cell volume: tertile of the member's expected units per week at this chain among the
   * category's buyers (see volume-truth.ts), not the household's consumption level.
   */
  volume_level: VolumeLevel;
  /** What the household consumes at all grocers (units per purchase), for reference. */
  consumption_level: VolumeLevel;
  /** Expected units per week at this chain, from the member's parameters. */
  expected_units_per_week: number;
  /** Bought on a personal rhythm (a staple of this member) rather than now and then. */
  regular: boolean;
}

/** Row of `sim_member_product_truth`. */
export interface SimMemberProductTruthRow {
  member_number: string;
  gtin: string;
  mean_gap_days: number;
  gap_shape: number;
  abandoned_on: string | null;
}

/**
 * A synthetic chain. Everything is lazy and streams member by member: memory stays constant in the
 * number of members, and each member depends only on (seed, index), so any range or chunking of the
 * output yields the same bytes as the whole.
 *
 * CSV producers yield one line per string, without the line end (join with `\n`, or use
 * `csvChunks`). Every iterable method starts a fresh pass when called again.
 */
export interface SimChain {
  readonly options: Readonly<Required<SimOptions>>;
  /** First and last day of the history (`YYYY-MM-DD`, inclusive). */
  readonly startDate: string;
  readonly endDate: string;
  /** The same as epoch days. */
  readonly firstDay: number;
  readonly lastDay: number;
  readonly stores: readonly SimStore[];
  readonly manufacturers: readonly SimManufacturer[];
  readonly categories: readonly SimCategory[];
  readonly products: readonly SimProduct[];
  member(index: number): SimMember;
  members(range?: MemberRange): Iterable<SimMember>;
  /** A fresh simulator for a member, positioned at the start of their history. */
  simulator(member: SimMember | number): MemberSim;
  /** Visits of every member through the end of the history, member by member, in time order. */
  visits(range?: MemberRange): Iterable<SimVisit>;
  basketLines(range?: MemberRange): Iterable<SimBasketLine>;
  productsCsv(options?: { header?: boolean }): Iterable<string>;
  membersCsv(options?: CsvOptions): Iterable<string>;
  basketsCsv(options?: CsvOptions): Iterable<string>;
  truth: {
    memberRows(range?: MemberRange): Iterable<SimMemberTruthRow>;
    memberCategoryRows(range?: MemberRange): Iterable<SimMemberCategoryTruthRow>;
    memberProductRows(range?: MemberRange): Iterable<SimMemberProductTruthRow>;
  };
}

/** Members whose expected volumes set the truth's tertile cuts (all of a smaller chain). */
const VOLUME_CUT_SAMPLE = 20_000;

/** Builds a chain from its options; nothing per member is computed until iterated. */
export function generateChain(opts: SimOptions): SimChain {
  const world = new SimWorld(opts);
  const { catalogue, calendar, firstDay, lastDay } = world;
  const count = world.memberCount;

  function* indices(range: MemberRange = {}): Generator<number> {
    const from = Math.max(0, Math.floor(range.from ?? 0));
    const to = Math.min(count, Math.floor(range.to ?? count));
    for (let i = from; i < to; i++) yield i;
  }

  function member(index: number): SimMember {
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new RangeError(`no member ${index} in a chain of ${count}`);
    }
    return createMember(world, index);
  }

  function* members(range?: MemberRange): Generator<SimMember> {
    for (const i of indices(range)) yield createMember(world, i);
  }

  function simulator(m: SimMember | number): MemberSim {
    return new MemberSim(world, typeof m === 'number' ? member(m) : m);
  }

  function* visits(range?: MemberRange): Generator<SimVisit> {
    for (const m of members(range)) {
      const sim = new MemberSim(world, m);
      for (let v = sim.nextVisit(lastDay); v !== null; v = sim.nextVisit(lastDay)) yield v;
    }
  }

  function* basketLines(range?: MemberRange): Generator<SimBasketLine> {
    for (const v of visits(range)) {
      for (const line of v.lines) {
        yield {
          memberIndex: v.memberIndex,
          card: v.card,
          txn: v.txn,
          ts: v.ts,
          storeId: v.storeId,
          terminalId: v.terminalId,
          gtin: line.gtin,
          qty: line.qty,
          unitPriceCents: line.unitPriceCents,
          lineDiscountCents: line.lineDiscountCents,
        };
      }
    }
  }

  function* productsCsv(options: { header?: boolean } = {}): Generator<string> {
    if (options.header ?? true) yield PRODUCTS_CSV_COLUMNS.join(',');
    for (const p of catalogue.products) {
      yield csvLine([
        p.gtin,
        p.name,
        p.categoryId,
        p.categoryName,
        p.brand,
        p.brandType,
        p.manufacturerId,
        p.manufacturerName,
        p.size,
        p.priceCents,
      ]);
    }
  }

  function* membersCsv(options: CsvOptions = {}): Generator<string> {
    if (options.header ?? true) yield MEMBERS_CSV_COLUMNS.join(',');
    for (const m of members(options)) {
      yield csvLine([
        m.memberNumber,
        m.cardNumber,
        m.homeStoreId,
        m.householdSize,
        m.hasDog,
        m.hasCat,
        m.hasBaby,
        m.firstName,
        m.lastName,
        m.email,
        m.postalCode,
        m.enrolledOn,
      ]);
    }
  }

  // The hot path: one string per line from reused buffers, no object per line, one Intl-free
  // timestamp per basket.
  function* basketsCsv(options: CsvOptions = {}): Generator<string> {
    if (options.header ?? true) yield BASKETS_CSV_COLUMNS.join(',');
    const gtinField = catalogue.products.map((p) => `${p.gtin},`);
    const terminalField = Array.from({ length: 100 }, (_, n) => `${terminalId(n)},`);
    for (const m of members(options)) {
      const sim = new MemberSim(world, m);
      const card = `${m.cardNumber},`;
      for (let buf = sim.nextVisitInto(lastDay); buf !== null; buf = sim.nextVisitInto(lastDay)) {
        const prefix = `${card}${sim.txnNumber(buf.visitNumber)},${localTimestamp(
          calendar.day(buf.day),
          buf.secondOfDay,
        )},${buf.storeId},${terminalField[buf.terminal]}`;
        for (let i = 0; i < buf.count; i++) {
          const gtin = gtinField[buf.product[i] as number];
          yield `${prefix}${gtin}${buf.qty[i]},${buf.unitPrice[i]},${buf.discount[i]}`;
        }
      }
    }
  }

  // Volume tertile cuts per category, from a sample of members (independent draws), once.
  let cuts: Map<number, [number, number]> | undefined;
  const volumeCutsOnce = () =>
    (cuts ??= volumeCuts(world, members({ to: Math.min(count, VOLUME_CUT_SAMPLE) })));

  const dateOrNull = (day: number | null) => (day === null ? null : formatDate(day));

  const truth = {
    *memberRows(range?: MemberRange): Generator<SimMemberTruthRow> {
      for (const m of members(range)) {
        yield {
          member_number: m.memberNumber,
          household_size: m.householdSize,
          has_dog: m.hasDog,
          has_cat: m.hasCat,
          has_baby: m.hasBaby,
          vegetable_lover: m.vegetableLover,
          weekly_spend_cents: m.truth.weeklySpendCents,
          share_of_wallet: m.truth.shareOfWallet,
          visit_mean_days: m.truth.visitMeanDays,
          churn_onset_date: dateOrNull(m.truth.churnOnsetDay),
        };
      }
    },
    *memberCategoryRows(range?: MemberRange): Generator<SimMemberCategoryTruthRow> {
      const cutsByCategory = volumeCutsOnce();
      for (const m of members(range)) {
        const expected = expectedVolume(world, m);
        for (const c of m.truth.categories) {
          const units = expected.get(c.categoryIndex)?.unitsPerWeek ?? 0;
          yield {
            member_number: m.memberNumber,
            category_id: c.categoryId,
            brand_pref: c.brandPref,
            volume_level: volumeLevelOf(units, cutsByCategory.get(c.categoryIndex)),
            consumption_level: c.consumptionLevel,
            expected_units_per_week: units,
            regular: c.regular,
          };
        }
      }
    },
    *memberProductRows(range?: MemberRange): Generator<SimMemberProductTruthRow> {
      for (const m of members(range)) {
        for (const p of m.truth.products) {
          yield {
            member_number: m.memberNumber,
            gtin: p.gtin,
            mean_gap_days: p.meanGapDays,
            gap_shape: p.gapShape,
            abandoned_on: dateOrNull(p.abandonedOnDay),
          };
        }
      }
    },
  };

  return {
    options: { ...opts, timeZone: world.timeZone },
    startDate: formatDate(firstDay),
    endDate: formatDate(lastDay),
    firstDay,
    lastDay,
    stores: world.stores,
    manufacturers: catalogue.manufacturers,
    categories: catalogue.categories,
    products: catalogue.products,
    member,
    members,
    simulator,
    visits,
    basketLines,
    productsCsv,
    membersCsv,
    basketsCsv,
    truth,
  };
}
