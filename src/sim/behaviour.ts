import { localTimestamp, parseDate } from './calendar.ts';
import type { BrandType } from './catalogue.ts';
import {
  STREAM_OFFERS,
  STREAM_SHOPPING,
  type MemberCategoryTruth,
  type MemberProductTruth,
  type SimMember,
} from './members.ts';
import { offerRedemptionProbability } from './offer-response.ts';
import { Rng } from './rng.ts';
import { terminalId } from './stores.ts';
import type { SimWorld } from './world.ts';
import { ABSENCES_PER_YEAR, IMPULSE_LINE_CAP, TRIAL_RATE, VARIETY_RATE } from './volume-truth.ts';

/** A personal offer handed to the member (closed-loop simulation). */
export interface SimOffer {
  id: string;
  /** The product the discount applies to. */
  gtin: string;
  /** Discount per unit, in cents. */
  discountCents: number;
  /** First and last chain-local day the offer can be redeemed, `YYYY-MM-DD`. */
  validFromDate: string;
  validToDate: string;
  /** Units per redemption that get the discount (default 1). */
  unitLimit?: number;
}

export interface SimVisitLine {
  productIndex: number;
  gtin: string;
  qty: number;
  unitPriceCents: number;
  lineDiscountCents: number;
  /** The offer redeemed on this line, if any. */
  offerId: string | null;
}

/** One basket at the chain. */
export interface SimVisit {
  memberIndex: number;
  memberNumber: string;
  card: string;
  /** Unique across the chain: (member index + 1) · 100000 + the member's visit number. */
  txn: string;
  /** Epoch day of the visit (chain-local date). */
  day: number;
  date: string;
  ts: string;
  storeId: number;
  terminalId: string;
  lines: SimVisitLine[];
}

/** Enough for a holiday stock-up; impulse filling stops before it. */
const MAX_LINES = 120;
const HOME_STORE_SHARE = 0.9;
const STOCK_UP_RATE = 0.04;
const SUBSTITUTE_RATE = 0.5;
/** Extra lognormal spread of an irregular product's gaps. */
const IRREGULAR_SIGMA = 0.6;
const TXN_VISITS_PER_MEMBER = 100_000;
const TRIP_GAP_SHAPE = 4;

/**
 * The lines of the basket being built. Typed arrays reused from basket to basket, so that producing
 * CSV allocates no object per line.
 */
export class BasketBuffer {
  count = 0;
  spend = 0;
  day = 0;
  storeId = 0;
  terminal = 0;
  secondOfDay = 0;
  visitNumber = 0;
  readonly product = new Int32Array(MAX_LINES);
  readonly qty = new Int32Array(MAX_LINES);
  readonly unitPrice = new Int32Array(MAX_LINES);
  readonly discount = new Int32Array(MAX_LINES);
  readonly offerId: (string | null)[] = new Array<string | null>(MAX_LINES).fill(null);

  reset(): void {
    for (let i = 0; i < this.count; i++) this.offerId[i] = null;
    this.count = 0;
    this.spend = 0;
  }

  /** Adds units of a product; a product already in the basket gets one line with the sum. */
  add(product: number, qty: number, unitPrice: number): number {
    for (let i = 0; i < this.count; i++) {
      if (this.product[i] === product) {
        this.qty[i] = (this.qty[i] as number) + qty;
        this.spend += qty * unitPrice;
        return i;
      }
    }
    if (this.count === MAX_LINES) return -1;
    const i = this.count++;
    this.product[i] = product;
    this.qty[i] = qty;
    this.unitPrice[i] = unitPrice;
    this.discount[i] = 0;
    this.spend += qty * unitPrice;
    return i;
  }
}

interface OfferState {
  id: string;
  productIndex: number;
  categoryIndex: number;
  fromDay: number;
  toDay: number;
  discountCents: number;
  unitLimit: number;
  redeem: boolean;
  done: boolean;
}

/**
 * One member's shopping, trip by trip, from the start of their history onwards.
 *
 * Model. The household shops at some grocer every `tripMeanDays` on average (gamma gaps, shape 4,
 * stretched by the weekday rhythm and holiday peaks, never on a closed day). A trip is at this chain
 * with probability share-of-wallet (0 during an absence episode; decaying after churn onset);
 * otherwise it is invisible. Each product bought on a rhythm falls due on a renewal process with
 * gamma gaps (the member's own mean and shape) and is bought on the trip nearest each due date
 * (see `advance`), so the mean gap between purchases is the true mean; at another grocer the
 * purchase happens but is not seen, so gaps observed at the chain run longer by about
 * 1 / share-of-wallet.
 * The rest of the basket is impulse items until the trip's spend reaches the member's weekly spend
 * pro rata of the days since the last trip.
 *
 * Mess on purpose: irregular products (extra gap noise), stock-ups (two cycles at once),
 * abandoned products, stock-outs (substitute or skip), trial purchases in any category, price
 * changes, holiday peaks, absence episodes, churn.
 *
 * State only moves forward; `nextVisit` can be called again with a later day and further offers to
 * continue the same member past the end of the generated history.
 */
export class MemberSim {
  readonly member: SimMember;
  private readonly world: SimWorld;
  private readonly rng: Rng;
  private readonly offerRng: Rng;
  private readonly products: readonly MemberProductTruth[];
  private readonly nextDue: Float64Array;
  private readonly categoryTruth: (MemberCategoryTruth | undefined)[];
  private readonly regularByCategory: number[][];
  private readonly impulseWeights: Float64Array;
  /** False only for a member whose every category is a regular staple. */
  private readonly hasImpulse: boolean;
  private readonly buf = new BasketBuffer();
  private readonly offerStates = new Map<string, OfferState>();
  private readonly activeOffers: OfferState[] = [];
  private trip: number;
  private lastTrip: number;
  private absentUntil = Number.NEGATIVE_INFINITY;
  private readonly forceChainOn: number;
  private visitNumber = 0;

  constructor(world: SimWorld, member: SimMember) {
    this.world = world;
    this.member = member;
    this.rng = new Rng(world.seed, member.index, STREAM_SHOPPING);
    this.offerRng = new Rng(world.seed, member.index, STREAM_OFFERS);
    const { truth } = member;
    this.products = truth.products;

    const categoryCount = world.catalogue.categories.length;
    this.categoryTruth = new Array<MemberCategoryTruth | undefined>(categoryCount);
    for (const c of truth.categories) this.categoryTruth[c.categoryIndex] = c;
    this.regularByCategory = Array.from({ length: categoryCount }, () => []);
    this.products.forEach((p, i) => this.regularByCategory[p.categoryIndex]!.push(i));
    this.impulseWeights = Float64Array.from(truth.categories, (c) => c.impulseWeight);
    this.hasImpulse = this.impulseWeights.some((w) => w > 0);

    const start = Math.max(world.firstDay, member.enrolledDay);
    // A member who enrols during the history does so at a checkout: that is their first visit.
    this.forceChainOn = member.enrolledDay >= world.firstDay ? member.enrolledDay : -1;
    let first =
      this.forceChainOn >= 0 ? start : start + this.rng.int(Math.ceil(truth.tripMeanDays));
    while (world.calendar.day(first).tripRate === 0) first++;
    this.trip = first;
    this.lastTrip = first - Math.round(truth.tripMeanDays);
    // Products start at a random point of their cycle: the household was buying them before.
    this.nextDue = Float64Array.from(this.products, (p) => start + this.rng.next() * p.meanGapDays);
  }

  /** Day (epoch) of the member's next trip to any grocer. */
  get nextTripDay(): number {
    return this.trip;
  }

  /**
   * Latent state, for benchmarks that ask how much a perfect model could know: each rhythm
   * product's next due day (epoch day, fractional) and the day it is given up (null: never).
   * Nothing in the baskets shows it; reading it changes nothing.
   */
  dueDays(): { gtin: string; dueDay: number; abandonedOnDay: number | null }[] {
    return this.products.map((p, i) => ({
      gtin: p.gtin,
      dueDay: this.nextDue[i] as number,
      abandonedOnDay: p.abandonedOnDay,
    }));
  }

  /**
   * Simulates the member's trips up to and including `throughDay` and returns the first one that
   * is a visit to this chain, or null when there is none by then. Offers are those the member
   * holds; each is decided once (when first seen) and redeemed at most once.
   */
  nextVisit(throughDay: number, offers: readonly SimOffer[] = []): SimVisit | null {
    const buf = this.nextVisitInto(throughDay, offers);
    if (!buf) return null;
    const { catalogue, calendar } = this.world;
    const day = calendar.day(buf.day);
    const lines: SimVisitLine[] = [];
    for (let i = 0; i < buf.count; i++) {
      const productIndex = buf.product[i] as number;
      lines.push({
        productIndex,
        gtin: catalogue.products[productIndex]!.gtin,
        qty: buf.qty[i] as number,
        unitPriceCents: buf.unitPrice[i] as number,
        lineDiscountCents: buf.discount[i] as number,
        offerId: buf.offerId[i] ?? null,
      });
    }
    return {
      memberIndex: this.member.index,
      memberNumber: this.member.memberNumber,
      card: this.member.cardNumber,
      txn: String(this.txnNumber(buf.visitNumber)),
      day: buf.day,
      date: day.date,
      ts: localTimestamp(day, buf.secondOfDay),
      storeId: buf.storeId,
      terminalId: terminalId(buf.terminal),
      lines,
    };
  }

  /** `nextVisit` without allocating: the basket is left in a buffer reused by the next call. */
  nextVisitInto(throughDay: number, offers: readonly SimOffer[] = []): BasketBuffer | null {
    while (this.trip <= throughDay) {
      const t = this.trip;
      // The household knows roughly when it will shop next; buying decisions depend on it.
      this.trip = this.followingTrip(t);
      const visited = this.makeTrip(t, offers);
      this.lastTrip = t;
      if (visited) return this.buf;
    }
    return null;
  }

  txnNumber(visitNumber: number): number {
    return (this.member.index + 1) * TXN_VISITS_PER_MEMBER + visitNumber;
  }

  /** 1 before churn onset, then decaying towards 0: the chain's hold on the member. */
  private hold(t: number): number {
    const { churnOnsetDay, churnDecayDays } = this.member.truth;
    return churnOnsetDay !== null && t >= churnOnsetDay
      ? Math.exp(-(t - churnOnsetDay) / churnDecayDays)
      : 1;
  }

  private makeTrip(t: number, offers: readonly SimOffer[]): boolean {
    const { rng, world, member } = this;
    const truth = member.truth;
    const hold = this.hold(t);
    const forced = t === this.forceChainOn;
    let atChain = forced || (t >= this.absentUntil && rng.next() < truth.shareOfWallet * hold);
    if (!forced && rng.next() < ((t - this.lastTrip) * ABSENCES_PER_YEAR) / 365) {
      this.absentUntil = t + rng.intBetween(7, 28);
      atChain = false;
    }

    this.activeOffers.length = 0;
    if (offers.length > 0) this.planOffers(t, offers);
    const buf = this.buf;
    if (atChain) this.openBasket(t);

    // Rhythm purchases: a product is bought on the trip nearest its due date (rounding both ways).
    const horizon = (t + this.trip) / 2;
    for (let i = 0; i < this.products.length; i++) {
      const p = this.products[i] as MemberProductTruth;
      if ((this.nextDue[i] as number) > horizon) continue;
      if (p.abandonedOnDay !== null && t >= p.abandonedOnDay) continue;
      // A drifting member buys some of their staples elsewhere even when in the store.
      if (!atChain || (hold < 1 && rng.next() > hold)) {
        this.advance(i, 1);
        continue;
      }
      let offer = this.offerFor(p.categoryIndex, t);
      if (offer && !world.inStock(buf.storeId, offer.productIndex, t)) offer = undefined;
      let product = offer ? offer.productIndex : p.productIndex;
      if (!offer && !world.inStock(buf.storeId, product, t)) {
        product = rng.chance(SUBSTITUTE_RATE)
          ? this.substitute(p.categoryIndex, p.brandType, product, t)
          : -1;
        // Skipped: the need stays, so it is bought on a later trip, here or elsewhere.
        if (product < 0) continue;
      }
      const periods = rng.chance(STOCK_UP_RATE) ? 2 : 1;
      const units = this.purchaseUnits(p.unitsPerPurchase) * periods;
      const line = buf.add(product, units, world.catalogue.priceOn(product, t));
      if (offer && line >= 0) this.redeem(offer, line);
      this.advance(i, periods);
    }
    if (!atChain) return false;

    this.redeemRemainingOffers(t);
    this.addImpulseItems(t, hold);
    return buf.count > 0;
  }

  private openBasket(t: number): void {
    const { rng, world, buf, member } = this;
    buf.reset();
    buf.day = t;
    const stores = world.stores;
    let storeId = member.homeStoreId;
    if (stores.length > 1 && !rng.chance(HOME_STORE_SHARE)) {
      const other = rng.int(stores.length - 1) + 1; // never the home store
      storeId = stores[(member.homeStoreId - 1 + other) % stores.length]!.id;
    }
    buf.storeId = storeId;
    buf.terminal = 1 + rng.int(stores[storeId - 1]!.terminals);
    const minute = Math.min(
      21 * 60 + 59,
      Math.max(7 * 60, member.truth.preferredMinute + 45 * rng.normal()),
    );
    buf.secondOfDay = Math.floor(minute) * 60 + rng.int(60);
    this.visitNumber++;
    if (this.visitNumber >= TXN_VISITS_PER_MEMBER) {
      throw new RangeError(
        `member ${member.memberNumber} exceeded ${TXN_VISITS_PER_MEMBER} visits`,
      );
    }
    buf.visitNumber = this.visitNumber;
  }

  /**
   * Product i is bought for `periods` cycles (here or elsewhere): its due date moves on by that
   * many gamma gaps. The clock runs from due date to due date (consumption), not from the day of
   * purchase, and each trip buys at most one due cycle (two for a stock-up): a purchase that rounds
   * late to a trip is made up by the next cycle, so over time the mean gap between purchases is
   * exactly the product's mean gap, whatever the trip rhythm.
   */
  private advance(i: number, periods: number): void {
    const p = this.products[i] as MemberProductTruth;
    let due = this.nextDue[i] as number;
    for (let k = 0; k < periods; k++) {
      let gap = this.rng.gammaMean(p.meanGapDays, p.gapShape);
      if (p.irregular) gap *= this.rng.scatter(IRREGULAR_SIGMA);
      due += gap;
    }
    this.nextDue[i] = due;
  }

  /** Usually the usual quantity; sometimes one more or one fewer. */
  private purchaseUnits(usual: number): number {
    const r = this.rng.next();
    return r < 0.125 ? Math.max(1, usual - 1) : r < 0.25 ? usual + 1 : usual;
  }

  /** Another in-stock product of the same brand type and category, or -1. */
  private substitute(
    categoryIndex: number,
    brandType: BrandType,
    exclude: number,
    t: number,
  ): number {
    const { catalogue } = this.world;
    const pool = (brandType === 'store' ? catalogue.storeByCategory : catalogue.nationalByCategory)[
      categoryIndex
    ] as readonly number[];
    for (let attempt = 0; attempt < 4; attempt++) {
      const candidate = this.rng.pick(pool);
      if (candidate !== exclude && this.world.inStock(this.buf.storeId, candidate, t)) {
        return candidate;
      }
    }
    return -1;
  }

  private addImpulseItems(t: number, hold: number): void {
    const { rng, world, buf, member } = this;
    const truth = member.truth;
    const categories = truth.categories;
    if (categories.length === 0) return;
    const days = Math.min(21, Math.max(1, t - this.lastTrip));
    const target =
      (truth.weeklySpendCents / 7) *
      days *
      rng.scatter(0.35) *
      world.calendar.day(t).basketFactor *
      (0.4 + 0.6 * hold);
    for (let tries = 0; tries < 2 * IMPULSE_LINE_CAP; tries++) {
      if ((buf.spend >= target && buf.count > 0) || buf.count >= IMPULSE_LINE_CAP) break;
      const c =
        !this.hasImpulse || rng.chance(TRIAL_RATE)
          ? (rng.pick(categories) as MemberCategoryTruth)
          : (categories[rng.weightedIndex(this.impulseWeights)] as MemberCategoryTruth);
      const product = this.chooseProduct(c);
      if (!world.inStock(buf.storeId, product, t)) continue;
      const packs = world.catalogue.categories[c.categoryIndex]!.packsBySize[
        world.catalogue.products[product]!.sizeIndex
      ] as number;
      // Heavy users take a second unit now and then; their volume shows mostly in how often.
      const units = Math.max(
        1,
        Math.round(packs * (1 + (c.volumeMultiplier - 1) * 0.3) * rng.scatter(0.25)),
      );
      buf.add(product, units, world.catalogue.priceOn(product, t));
    }
  }

  /** A free choice in a category: brand type by the member's store share, mostly the favourite. */
  private chooseProduct(c: MemberCategoryTruth): number {
    const { rng } = this;
    const { catalogue } = this.world;
    const store = rng.chance(c.storeShare);
    if (rng.chance(VARIETY_RATE)) {
      const pool = (store ? catalogue.storeByCategory : catalogue.nationalByCategory)[
        c.categoryIndex
      ];
      return rng.pick(pool as readonly number[]);
    }
    return store ? c.favouriteStore : c.favouriteNational;
  }

  /** Decides, once per offer, whether the member will redeem it (ground truth response). */
  private planOffers(t: number, offers: readonly SimOffer[]): void {
    const { catalogue } = this.world;
    for (const offer of offers) {
      let state = this.offerStates.get(offer.id);
      if (!state) {
        const toDay = parseDate(offer.validToDate);
        if (t > toDay) continue;
        const productIndex = catalogue.productIndexByGtin.get(offer.gtin);
        if (productIndex === undefined) {
          throw new RangeError(`offer ${offer.id}: unknown gtin ${offer.gtin}`);
        }
        const product = catalogue.products[productIndex]!;
        const fromDay = parseDate(offer.validFromDate);
        let due: number | null = null;
        for (const i of this.regularByCategory[product.categoryIndex] as number[]) {
          const p = this.products[i] as MemberProductTruth;
          if (p.abandonedOnDay !== null && fromDay >= p.abandonedOnDay) continue;
          due = Math.min(due ?? Infinity, this.nextDue[i] as number);
        }
        const response = offerRedemptionProbability(
          this.categoryTruth[product.categoryIndex]?.brandPref ?? null,
          {
            brandType: product.brandType,
            discountShare: offer.discountCents / catalogue.priceOn(productIndex, fromDay),
            windowDays: toDay - fromDay + 1,
          },
          due === null ? null : due - fromDay,
        );
        state = {
          id: offer.id,
          productIndex,
          categoryIndex: product.categoryIndex,
          fromDay,
          toDay,
          discountCents: offer.discountCents,
          unitLimit: offer.unitLimit ?? 1,
          redeem: this.offerRng.next() < response.probability,
          done: false,
        };
        this.offerStates.set(offer.id, state);
      }
      if (state.redeem && !state.done && state.fromDay <= t && t <= state.toDay) {
        this.activeOffers.push(state);
      }
    }
  }

  private offerFor(categoryIndex: number, t: number): OfferState | undefined {
    return this.activeOffers.find(
      (o) => !o.done && o.categoryIndex === categoryIndex && o.fromDay <= t && t <= o.toDay,
    );
  }

  private redeem(offer: OfferState, line: number): void {
    const buf = this.buf;
    const perUnit = Math.min(offer.discountCents, buf.unitPrice[line] as number);
    buf.discount[line] = perUnit * Math.min(buf.qty[line] as number, offer.unitLimit);
    buf.offerId[line] = offer.id;
    offer.done = true;
  }

  /**
   * Offers the member means to redeem whose category was not due today: a non-buyer tries the
   * product now; a buyer pulls the purchase forward on the last trip of the window.
   */
  private redeemRemainingOffers(t: number): void {
    const { world, buf } = this;
    for (const offer of this.activeOffers) {
      if (offer.done) continue;
      const regular = this.regularByCategory[offer.categoryIndex] as number[];
      // A buyer waits for the need unless the next trip falls after the window closes.
      if (regular.length > 0 && this.trip <= offer.toDay) continue;
      if (!world.inStock(buf.storeId, offer.productIndex, t)) continue;
      let units = 1;
      let earliest = -1;
      for (const i of regular) {
        if (earliest < 0 || (this.nextDue[i] as number) < (this.nextDue[earliest] as number)) {
          earliest = i;
        }
      }
      if (earliest >= 0) {
        // Bought ahead of need: this cycle is covered.
        units = this.products[earliest]!.unitsPerPurchase;
        this.advance(earliest, 1);
      }
      const line = buf.add(
        offer.productIndex,
        units,
        world.catalogue.priceOn(offer.productIndex, t),
      );
      if (line >= 0) this.redeem(offer, line);
    }
  }

  private followingTrip(t: number): number {
    const { calendar } = this.world;
    // Gamma time measured in "ordinary days": busy days and holiday weeks pass faster, closed
    // days not at all, so trips cluster where shoppers really cluster.
    let remaining = this.rng.gammaMean(
      Math.max(0.5, this.member.truth.tripMeanDays - 0.5),
      TRIP_GAP_SHAPE,
    );
    let d = t;
    do {
      d++;
      remaining -= calendar.day(d).tripRate;
    } while (remaining > 0);
    return d;
  }
}
