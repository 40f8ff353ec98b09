import { formatDate } from './calendar.ts';
import type { BrandType, SimCategory } from './catalogue.ts';
import { Rng } from './rng.ts';
import type { SimWorld } from './world.ts';

export type BrandPref = 'national' | 'store' | 'switcher';
export type VolumeLevel = 'low' | 'medium' | 'high';

/** Stream ids: each member draws its profile, its shopping and its offer responses separately. */
export const STREAM_PROFILE = 1;
export const STREAM_SHOPPING = 2;
export const STREAM_OFFERS = 3;

/** A member's relationship with one category they buy. */
export interface MemberCategoryTruth {
  categoryIndex: number;
  categoryId: string;
  brandPref: BrandPref;
  /**
   * How much the household consumes in the category, at all grocers (units per purchase 1, 1.5 or
   * 2.2 times a light household's). Not the 9-cell volume: that is what shows up at this chain
   * (see volume-truth.ts), which also depends on share of wallet, rhythm and pack size.
   */
  consumptionLevel: VolumeLevel;
  /** Bought on a personal repurchase rhythm (an adopted staple) rather than on impulse. */
  regular: boolean;
  /** Chance that a freely chosen unit (impulse, substitute) is the store brand. */
  storeShare: number;
  /** Units per purchase relative to a low-volume household. */
  volumeMultiplier: number;
  /** Pull as an unplanned basket item; 0 for regular staples, which follow their rhythm. */
  impulseWeight: number;
  /** Product picked when the member reaches for a national brand / the store brand. */
  favouriteNational: number;
  favouriteStore: number;
}

/** One product a member repurchases on a gamma renewal rhythm. */
export interface MemberProductTruth {
  productIndex: number;
  gtin: string;
  categoryIndex: number;
  brandType: BrandType;
  /** Mean days between purchases of this product (at any grocer). */
  meanGapDays: number;
  /** Gamma shape of the gaps: 1 is memoryless, higher is more regular. */
  gapShape: number;
  /** Units per purchase, before noise. */
  unitsPerPurchase: number;
  /** Day (epoch) the household stops buying the product anywhere, or null. */
  abandonedOnDay: number | null;
  /**
   * Gaps carry extra lognormal noise on top of the gamma, so the gamma is not the whole truth.
   * Deliberately absent from the exported truth rows.
   */
  irregular: boolean;
}

export interface MemberTruth {
  /** Grocery spend per week at all grocers. */
  weeklySpendCents: number;
  /** Share of grocery trips (and so spend) made at this chain. */
  shareOfWallet: number;
  /** Mean days between grocery trips anywhere. */
  tripMeanDays: number;
  /** Mean days between visits to this chain (trip rhythm over share of wallet). */
  visitMeanDays: number;
  /** From this day on, the member drifts to other grocers; null for loyal members. */
  churnOnsetDay: number | null;
  /** Time constant (days) of the drift after onset. */
  churnDecayDays: number;
  /** Standard-normal lean to cheaper brands, shared across categories. */
  priceSensitivity: number;
  /** Usual minute of the day to shop (local time). */
  preferredMinute: number;
  categories: readonly MemberCategoryTruth[];
  products: readonly MemberProductTruth[];
}

export interface SimMember {
  index: number;
  memberNumber: string;
  cardNumber: string;
  homeStoreId: number;
  householdSize: number;
  hasDog: boolean;
  hasCat: boolean;
  hasBaby: boolean;
  vegetableLover: boolean;
  firstName: string;
  lastName: string;
  email: string;
  postalCode: string;
  enrolledOn: string;
  enrolledDay: number;
  truth: MemberTruth;
}

const FIRST_NAMES = [
  'Avery',
  'Blake',
  'Casey',
  'Dana',
  'Elliot',
  'Finley',
  'Gray',
  'Harper',
  'Indigo',
  'Jordan',
  'Kai',
  'Logan',
  'Morgan',
  'Noel',
  'Oakley',
  'Parker',
  'Quinn',
  'Reese',
  'Sage',
  'Taylor',
  'Umber',
  'Vesper',
  'Wren',
  'Xen',
  'Yael',
  'Zion',
  'Ada',
  'Bram',
  'Cleo',
  'Dario',
  'Edda',
  'Flint',
  'Gemma',
  'Hugo',
  'Ines',
  'Jonas',
  'Kira',
  'Lars',
  'Mina',
  'Nico',
  'Otto',
  'Pia',
] as const;

const LAST_NAMES = [
  'Testwell',
  'Sampleton',
  'Mockridge',
  'Fakeley',
  'Placeholder',
  'Dummett',
  'Fictor',
  'Exampleby',
  'Synthson',
  'Pseudon',
  'Madeup',
  'Notreal',
  'Simmons-Test',
  'Demoford',
  'Stubbins',
  'Fixture',
  'Seedwell',
  'Randall-Gen',
  'Noname',
  'Doe',
  'Roe',
  'Moe',
  'Loremton',
  'Ipsumby',
  'Dolorsen',
  'Ametto',
  'Consectet',
  'Vacant',
  'Blankley',
  'Nullsworth',
] as const;

/** US household sizes 1–6 (census shares, 6 meaning 6+). */
const HOUSEHOLD_SIZE_WEIGHTS = [0.28, 0.35, 0.15, 0.13, 0.06, 0.03] as const;
/** P(baby in household | size): no baby alone, most babies in 3+ households; ≈ 8% overall. */
const BABY_BY_SIZE = [0, 0.03, 0.18, 0.2, 0.2, 0.22] as const;
/** Grocery spend scales sub-linearly with household size. */
const SPEND_BY_SIZE = [0.6, 0.95, 1.15, 1.35, 1.5, 1.65] as const;
const MEDIAN_WEEKLY_SPEND_CENTS = 5_500;
const SPEND_SIGMA = 0.75;

const VOLUME_MULTIPLIER: Record<VolumeLevel, number> = { low: 1, medium: 1.5, high: 2.2 };
const MIN_GAP_IN_TRIPS = 1.25;
const IMPULSE_BY_VOLUME: Record<VolumeLevel, number> = { low: 0.5, medium: 1, high: 2 };
/** National brands' pull by market rank: the leader sells most. */
const BRAND_RANK_WEIGHTS = [1, 0.6, 0.35, 0.25] as const;

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const logistic = (x: number) => 1 / (1 + Math.exp(-x));

/** Luhn check digit, as payment and loyalty card numbers carry. */
export function luhnCheckDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(body.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * 12-digit card number: `6`, ten digits that are an affine permutation of the member index modulo
 * 10^10 (unique for up to 10^10 members, yet not sequential), and a Luhn check digit.
 */
export function cardNumber(seed: number, index: number): string {
  const modulus = 10_000_000_000n;
  const offset = BigInt(new Rng(seed, 0xca4d).uint32()) * 2n + 12_345n;
  // Any multiplier coprime to 10 makes i ↦ a·i + b a bijection modulo 10^10.
  const multiplier = 7_654_321_019n;
  const body = `6${((BigInt(index) * multiplier + offset) % modulus).toString().padStart(10, '0')}`;
  return body + luhnCheckDigit(body);
}

export function memberNumber(index: number): string {
  return `M${String(index + 1).padStart(7, '0')}`;
}

function volumeLevel(score: number): VolumeLevel {
  // Score has s.d. ≈ 1.08; ±0.47 cuts it into rough tertiles.
  return score < -0.47 ? 'low' : score > 0.47 ? 'high' : 'medium';
}

/**
 * Draws one member: household, contact data (fake: example.com addresses, 000xx postal codes),
 * spend, share of wallet, rhythm, churn and, per category, preference, volume and the products
 * bought on a rhythm. Depends only on (seed, index).
 */
export function createMember(world: SimWorld, index: number): SimMember {
  const rng = new Rng(world.seed, index, STREAM_PROFILE);
  const { catalogue, firstDay, lastDay } = world;
  const span = lastDay - firstDay + 1;

  const householdSize = rng.weightedIndex(HOUSEHOLD_SIZE_WEIGHTS) + 1;
  const hasBaby = rng.chance(BABY_BY_SIZE[householdSize - 1] as number);
  const hasDog = rng.chance(0.35);
  const hasCat = rng.chance(0.3);
  const vegetableLover = rng.chance(0.2);
  const drinksBeer = rng.chance(0.55);

  const spendZ = rng.normal();
  const weeklySpendCents = Math.round(
    MEDIAN_WEEKLY_SPEND_CENTS *
      (SPEND_BY_SIZE[householdSize - 1] as number) *
      Math.exp(SPEND_SIGMA * spendZ),
  );
  const shareOfWallet = round(Math.min(0.98, Math.max(0.03, rng.beta(2.2, 1.4))), 4);
  const tripMeanDays = round(Math.min(12, Math.max(1.5, 4 * rng.scatter(0.3))), 2);
  const visitMeanDays = round(tripMeanDays / shareOfWallet, 2);

  // 15% joined during the history (their baskets start then); the rest up to six years before.
  let enrolledDay =
    span >= 28 && rng.chance(0.15)
      ? firstDay + rng.int(Math.floor(span * 0.8))
      : firstDay - rng.intBetween(30, 6 * 365);
  // Members enrol at a checkout, so not on a day the stores are closed.
  while (enrolledDay >= firstDay && world.calendar.day(enrolledDay).tripRate === 0) enrolledDay++;
  const activeFrom = Math.max(firstDay, enrolledDay);

  let churnOnsetDay: number | null = null;
  if (rng.chance(0.1)) {
    const lo = Math.max(firstDay + Math.floor(span * 0.3), activeFrom + 42);
    const hi = firstDay + Math.floor(span * 0.85);
    if (lo < hi) churnOnsetDay = rng.intBetween(lo, hi);
  }
  const churnDecayDays = round(rng.uniform(20, 60), 1);
  const priceSensitivity = round(rng.normal() - 0.3 * spendZ, 3);
  const slot = rng.weightedIndex([0.3, 0.2, 0.35, 0.15]);
  const preferredMinute = Math.round(([600, 750, 1050, 1140][slot] as number) + 50 * rng.normal());

  const homeStoreId = world.stores[rng.weightedIndex(world.stores.map((s) => s.terminals))]!.id;
  const firstName = rng.pick(FIRST_NAMES);
  const lastName = rng.pick(LAST_NAMES);
  const number = memberNumber(index);
  const email = `${firstName}.${lastName}.${number}@example.com`.toLowerCase().replace(/'/g, '');
  const postalCode = `000${String((homeStoreId * 7 + rng.int(5)) % 100).padStart(2, '0')}`;

  const fits = (c: SimCategory): boolean =>
    (c.need === 'dog' && hasDog) ||
    (c.need === 'cat' && hasCat) ||
    (c.need === 'baby' && hasBaby) ||
    (c.need === null && (c.id !== 'beer' || drinksBeer));

  const categories: MemberCategoryTruth[] = [];
  const products: MemberProductTruth[] = [];
  for (const c of catalogue.categories) {
    if (!fits(c)) continue;
    const vegetables = c.id === 'vegetables';
    const adopt =
      c.staple &&
      ((vegetables && vegetableLover) ||
        rng.chance(
          Math.min(
            0.97,
            c.penetration * Math.exp(0.25 * spendZ) * (1 + 0.08 * (householdSize - 2)),
          ),
        ));
    // Some households never buy a given impulse category at all.
    if (!c.staple && !rng.chance(0.7)) continue;

    const leanStore = logistic(c.storeAffinity + 1.1 * priceSensitivity);
    const brandPref: BrandPref = rng.chance(0.22)
      ? 'switcher'
      : rng.chance(leanStore)
        ? 'store'
        : 'national';
    const storeShare =
      brandPref === 'switcher'
        ? round(rng.uniform(0.3, 0.7), 3)
        : brandPref === 'store'
          ? 0.96
          : 0.04;
    const level: VolumeLevel =
      c.staple && !adopt
        ? 'low' // an occasional buyer is a light buyer by definition
        : volumeLevel(
            0.55 * spendZ +
              0.3 * (householdSize - 2.3) +
              (vegetables && vegetableLover ? 1.2 : 0) +
              0.85 * rng.normal(),
          );
    const nationals = catalogue.nationalByCategory[c.index] as readonly number[];
    const stores = catalogue.storeByCategory[c.index] as readonly number[];
    const brandCount = (catalogue.brandsByCategory[c.index] as readonly string[]).length;
    const sizeCount = c.sizes.length;
    const nationalProduct = (brand: number, size: number) =>
      nationals[brand * sizeCount + size] as number;
    const pickBrand = () => rng.weightedIndex(BRAND_RANK_WEIGHTS.slice(0, brandCount));
    const favouriteBrand = pickBrand();
    // Sizes are picked evenly: volume shows in units, which is what the 9-cell analysis counts.
    const favouriteSize = rng.int(sizeCount);
    const truth: MemberCategoryTruth = {
      categoryIndex: c.index,
      categoryId: c.id,
      brandPref,
      consumptionLevel: level,
      regular: adopt,
      storeShare,
      volumeMultiplier: VOLUME_MULTIPLIER[level],
      impulseWeight: adopt ? 0 : c.impulseWeight * (c.staple ? 0.5 : IMPULSE_BY_VOLUME[level]),
      favouriteNational: nationalProduct(favouriteBrand, favouriteSize),
      favouriteStore: stores[favouriteSize] as number,
    };
    categories.push(truth);
    if (!adopt) continue;

    // The products bought on a rhythm, with their share of the category's purchases.
    const chosen: Array<[product: number, weight: number]> = [];
    if (brandPref === 'national') {
      chosen.push([truth.favouriteNational, 1]);
      if (brandCount > 1 && rng.chance(0.15)) {
        let other = pickBrand();
        while (other === favouriteBrand) other = (other + 1) % brandCount;
        chosen[0]![1] = 0.7;
        chosen.push([nationalProduct(other, favouriteSize), 0.3]);
      }
    } else if (brandPref === 'store') {
      chosen.push([truth.favouriteStore, 1]);
      if (sizeCount > 1 && rng.chance(0.1)) {
        chosen[0]![1] = 0.75;
        chosen.push([stores[(favouriteSize + 1) % sizeCount] as number, 0.25]);
      }
    } else {
      chosen.push([truth.favouriteNational, 1 - storeShare], [truth.favouriteStore, storeShare]);
    }
    // Personal category rhythm scattered around the category's (mean-preserving).
    const consumptionMean = (c.meanGapDays as number) * rng.scatter(0.3);
    // Nobody buys milk every three days when they shop weekly: they buy more at a time. The
    // purchase rhythm is at least a trip and a bit, with units scaled up so consumption holds.
    const categoryMean = Math.max(consumptionMean, MIN_GAP_IN_TRIPS * tripMeanDays);
    const stretch = categoryMean / consumptionMean;
    for (const [productIndex, weight] of chosen) {
      const product = catalogue.products[productIndex]!;
      const abandoned = rng.chance(0.07);
      const abandonFrom = activeFrom + Math.floor((lastDay - activeFrom) * 0.2);
      const abandonTo = lastDay - Math.floor(span * 0.1);
      products.push({
        productIndex,
        gtin: product.gtin,
        categoryIndex: c.index,
        brandType: product.brandType,
        meanGapDays: round(categoryMean / weight, 2),
        gapShape: round(Math.min(3, Math.max(1.5, 2 * rng.scatter(0.2))), 3),
        unitsPerPurchase: Math.max(
          1,
          Math.round(
            (c.packsBySize[product.sizeIndex] as number) *
              truth.volumeMultiplier *
              stretch *
              rng.scatter(0.15),
          ),
        ),
        abandonedOnDay:
          abandoned && abandonFrom < abandonTo ? rng.intBetween(abandonFrom, abandonTo) : null,
        irregular: rng.chance(0.15),
      });
    }
  }

  return {
    index,
    memberNumber: number,
    cardNumber: cardNumber(world.seed, index),
    homeStoreId,
    householdSize,
    hasDog,
    hasCat,
    hasBaby,
    vegetableLover,
    firstName,
    lastName,
    email,
    postalCode,
    enrolledOn: formatDate(enrolledDay),
    enrolledDay,
    truth: {
      weeklySpendCents,
      shareOfWallet,
      tripMeanDays,
      visitMeanDays,
      churnOnsetDay,
      churnDecayDays,
      priceSensitivity,
      preferredMinute,
      categories,
      products,
    },
  };
}
