import { formatDate } from './calendar.ts';
import { Rng } from './rng.ts';

export type BrandType = 'national' | 'store';
/** A category only some households buy. */
export type HouseholdNeed = 'dog' | 'cat' | 'baby';

interface SizeSpec {
  label: string;
  /** Reference national shelf price. */
  cents: number;
  /** Packs a typical low-volume household takes per purchase. */
  packs?: number;
}

interface CategorySpec {
  id: string;
  name: string;
  /** Product noun after the brand ("Relievo Pain Reliever 100 ct"); empty when sizes say it. */
  noun: string;
  /** Mean days between purchases for a regular buyer; null for impulse (non-staple) categories. */
  meanGapDays: number | null;
  /** Share of eligible households that buy the category regularly (staples only). */
  penetration: number;
  need?: HouseholdNeed;
  /** Logit of leaning to the store brand: milk and eggs are commodities, coffee and beer are not. */
  storeAffinity: number;
  /** Relative pull as an unplanned basket item. */
  impulseWeight: number;
  sizes: SizeSpec[];
  /** National brands with their manufacturer ids, market leader first. */
  brands: Array<[brand: string, manufacturerId: string]>;
}

export const STORE_MANUFACTURER_ID = 'store';
export const STORE_BRAND = 'Cadence Market';

/** Fictional manufacturers; several own brands in more than one category. */
const MANUFACTURERS: ReadonlyArray<[id: string, name: string]> = [
  ['meridian', 'Meridian Health Products'],
  ['halvorsen', 'Halvorsen Pharma'],
  ['kestrel', 'Kestrel Pet Nutrition'],
  ['alder', 'Alder & Finch Petcare'],
  ['acorn', 'Little Acorn Co.'],
  ['cottonwood', 'Cottonwood Paper'],
  ['harbor', 'Harbor Home Care'],
  ['bluebell', 'Bluebell Dairy'],
  ['pasture', 'Green Pasture Co-op'],
  ['goldleaf', 'Goldleaf Coffee Co.'],
  ['caldera', 'Caldera Roasters'],
  ['northfield', 'Northfield Foods'],
  ['piazza', 'Piazza Foods'],
  ['prairie', 'Prairie Mills'],
  ['lotus', 'Lotus Grain'],
  ['sunridge', 'Sunridge Beverages'],
  ['polar', 'Polar Springs'],
  ['crunchworks', 'Crunchworks Snacks'],
  ['sweetwater', 'Sweetwater Confections'],
  ['valley', 'Green Valley Farms'],
  ['fieldstone', 'Fieldstone Produce'],
  ['ridgeway', 'Ridgeway Poultry'],
  ['hearthstone', 'Hearthstone Bakery'],
  ['frostbite', 'Frostbite Foods'],
  ['tavern', 'Old Tavern Brewing'],
  ['lakeside', 'Lakeside Brewery'],
  ['lumen', 'Lumen Personal Care'],
  [STORE_MANUFACTURER_ID, STORE_BRAND],
];

const CATEGORIES: readonly CategorySpec[] = [
  {
    id: 'analgesics',
    name: 'Non-aspirin analgesics',
    noun: 'Pain Reliever',
    meanGapDays: 45,
    penetration: 0.35,
    storeAffinity: -0.6,
    impulseWeight: 0.4,
    sizes: [
      { label: '24 ct', cents: 599 },
      { label: '100 ct', cents: 1199 },
      { label: '225 ct', cents: 1899 },
    ],
    brands: [
      ['Relievo', 'meridian'],
      ['Paxadine', 'halvorsen'],
      ['Dolorin', 'meridian'],
    ],
  },
  {
    id: 'dog_food',
    name: 'Dog food',
    noun: 'Dry Dog Food',
    meanGapDays: 20,
    penetration: 0.9,
    need: 'dog',
    storeAffinity: -0.5,
    impulseWeight: 0.6,
    sizes: [
      { label: '5 lb', cents: 999 },
      { label: '15 lb', cents: 2499 },
      { label: '30 lb', cents: 3999 },
    ],
    brands: [
      ['Trailhound', 'kestrel'],
      ['Barkwell', 'alder'],
      ['Good Boy Chow', 'kestrel'],
    ],
  },
  {
    id: 'cat_food',
    name: 'Cat food',
    noun: 'Cat Food',
    meanGapDays: 10,
    penetration: 0.9,
    need: 'cat',
    storeAffinity: -0.4,
    impulseWeight: 0.6,
    sizes: [
      { label: '3 oz can', cents: 109, packs: 6 },
      { label: '5.5 oz can', cents: 159, packs: 4 },
    ],
    brands: [
      ['Whisker Feast', 'kestrel'],
      ['Purrfect Plate', 'alder'],
    ],
  },
  {
    id: 'diapers',
    name: 'Diapers',
    noun: 'Diapers',
    meanGapDays: 10,
    penetration: 0.95,
    need: 'baby',
    storeAffinity: -0.3,
    impulseWeight: 0.4,
    sizes: [
      { label: '36 ct', cents: 1199 },
      { label: '84 ct', cents: 2499 },
    ],
    brands: [
      ['Snugglebee', 'acorn'],
      ['Dryly', 'cottonwood'],
      ['Cloud Nine Baby', 'lumen'],
    ],
  },
  {
    id: 'baby_food',
    name: 'Baby food',
    noun: 'Baby Food Puree',
    meanGapDays: 7,
    penetration: 0.75,
    need: 'baby',
    storeAffinity: -0.2,
    impulseWeight: 0.5,
    sizes: [
      { label: '4 oz jar', cents: 139, packs: 4 },
      { label: '4 x 4 oz', cents: 499 },
    ],
    brands: [
      ['Tiny Sprout', 'acorn'],
      ['Harvest Baby', 'valley'],
    ],
  },
  {
    id: 'vegetables',
    name: 'Fresh vegetables',
    noun: '',
    meanGapDays: 5,
    penetration: 0.45,
    storeAffinity: 0.3,
    impulseWeight: 1,
    sizes: [
      { label: 'Baby Carrots 1 lb', cents: 199 },
      { label: 'Salad Mix 10 oz', cents: 399 },
      { label: 'Broccoli Crowns 1 lb', cents: 279 },
    ],
    brands: [
      ['Green Valley', 'valley'],
      ['Fieldstone', 'fieldstone'],
    ],
  },
  {
    id: 'milk',
    name: 'Milk',
    noun: 'Milk 2%',
    meanGapDays: 6,
    penetration: 0.8,
    storeAffinity: 0.7,
    impulseWeight: 0.6,
    sizes: [
      { label: 'half gallon', cents: 329 },
      { label: '1 gallon', cents: 499 },
    ],
    brands: [
      ['Bluebell', 'bluebell'],
      ['Green Pasture', 'pasture'],
    ],
  },
  {
    id: 'coffee',
    name: 'Coffee',
    noun: 'Ground Coffee',
    meanGapDays: 21,
    penetration: 0.5,
    storeAffinity: -0.7,
    impulseWeight: 0.5,
    sizes: [
      { label: '12 oz', cents: 899 },
      { label: '24 oz', cents: 1599 },
    ],
    brands: [
      ['Goldleaf', 'goldleaf'],
      ['Morning Summit', 'goldleaf'],
      ['Caldera', 'caldera'],
    ],
  },
  {
    id: 'cereal',
    name: 'Breakfast cereal',
    noun: 'Cereal',
    meanGapDays: 12,
    penetration: 0.5,
    storeAffinity: -0.3,
    impulseWeight: 0.8,
    sizes: [
      { label: '12 oz', cents: 479 },
      { label: '18 oz', cents: 629 },
    ],
    brands: [
      ['Oat Crunchies', 'northfield'],
      ['Prairie Flakes', 'prairie'],
      ['Sunny Bran', 'northfield'],
    ],
  },
  {
    id: 'detergent',
    name: 'Laundry detergent',
    noun: 'Laundry Detergent',
    meanGapDays: 30,
    penetration: 0.6,
    storeAffinity: -0.5,
    impulseWeight: 0.3,
    sizes: [
      { label: '64 oz', cents: 1199 },
      { label: '128 oz', cents: 1999 },
    ],
    brands: [
      ['Tidewater', 'harbor'],
      ['Freshline', 'harbor'],
      ['Lumina Wash', 'lumen'],
    ],
  },
  {
    id: 'toilet_paper',
    name: 'Toilet paper',
    noun: 'Bath Tissue',
    meanGapDays: 16,
    penetration: 0.7,
    storeAffinity: -0.2,
    impulseWeight: 0.3,
    sizes: [
      { label: '6 double rolls', cents: 749 },
      { label: '12 double rolls', cents: 1349 },
    ],
    brands: [
      ['Cloudsoft', 'cottonwood'],
      ['Harbor Soft', 'harbor'],
    ],
  },
  {
    id: 'soft_drinks',
    name: 'Soft drinks',
    noun: 'Soda',
    meanGapDays: 8,
    penetration: 0.35,
    storeAffinity: -0.9,
    impulseWeight: 1.5,
    sizes: [
      { label: '2 L', cents: 249 },
      { label: '12 x 12 oz cans', cents: 799 },
    ],
    brands: [
      ['Fizzco', 'sunridge'],
      ['Ridge Cola', 'sunridge'],
      ['Polar Pop', 'polar'],
    ],
  },
  {
    id: 'snacks',
    name: 'Chips and snacks',
    noun: 'Potato Chips',
    meanGapDays: null,
    penetration: 0,
    storeAffinity: -0.4,
    impulseWeight: 4,
    sizes: [
      { label: '8 oz', cents: 449 },
      { label: '13 oz', cents: 599 },
    ],
    brands: [
      ['Crunchworks', 'crunchworks'],
      ["Salty Sam's", 'crunchworks'],
      ['Kettle Ridge', 'sweetwater'],
    ],
  },
  {
    id: 'bread',
    name: 'Bread',
    noun: 'Sandwich Bread',
    meanGapDays: 5,
    penetration: 0.75,
    storeAffinity: 0.3,
    impulseWeight: 0.6,
    sizes: [{ label: '20 oz loaf', cents: 379 }],
    brands: [
      ['Hearthstone', 'hearthstone'],
      ['Prairie Gold', 'prairie'],
    ],
  },
  {
    id: 'eggs',
    name: 'Eggs',
    noun: 'Large Eggs',
    meanGapDays: 9,
    penetration: 0.65,
    storeAffinity: 0.8,
    impulseWeight: 0.4,
    sizes: [
      { label: '12 ct', cents: 349 },
      { label: '18 ct', cents: 499 },
    ],
    brands: [
      ['Valley Fresh', 'valley'],
      ['Ridgeway', 'ridgeway'],
      ['Green Pasture', 'pasture'],
    ],
  },
  {
    id: 'cheese',
    name: 'Cheese',
    noun: 'Cheddar Cheese',
    meanGapDays: 10,
    penetration: 0.55,
    storeAffinity: 0.3,
    impulseWeight: 0.8,
    sizes: [
      { label: '8 oz', cents: 399 },
      { label: '16 oz', cents: 699 },
    ],
    brands: [
      ['Bluebell', 'bluebell'],
      ['Green Pasture', 'pasture'],
    ],
  },
  {
    id: 'yogurt',
    name: 'Yogurt',
    noun: 'Yogurt',
    meanGapDays: 7,
    penetration: 0.45,
    storeAffinity: -0.2,
    impulseWeight: 0.8,
    sizes: [
      { label: '5.3 oz cup', cents: 129, packs: 4 },
      { label: '32 oz tub', cents: 479 },
    ],
    brands: [
      ['Bluebell', 'bluebell'],
      ['Alpine Cream', 'pasture'],
      ['Lotus Skyr', 'lotus'],
    ],
  },
  {
    id: 'pasta',
    name: 'Dry pasta',
    noun: 'Spaghetti',
    meanGapDays: 14,
    penetration: 0.4,
    storeAffinity: 0.2,
    impulseWeight: 0.6,
    sizes: [{ label: '16 oz', cents: 179, packs: 2 }],
    brands: [
      ['Piazza', 'piazza'],
      ['Northfield', 'northfield'],
    ],
  },
  {
    id: 'rice',
    name: 'Rice',
    noun: 'Long Grain Rice',
    meanGapDays: 30,
    penetration: 0.3,
    storeAffinity: 0.2,
    impulseWeight: 0.3,
    sizes: [
      { label: '2 lb', cents: 349 },
      { label: '5 lb', cents: 749 },
    ],
    brands: [
      ['Lotus', 'lotus'],
      ['Golden Prairie', 'prairie'],
    ],
  },
  {
    id: 'canned_tomatoes',
    name: 'Canned tomatoes',
    noun: 'Diced Tomatoes',
    meanGapDays: 14,
    penetration: 0.3,
    storeAffinity: 0.4,
    impulseWeight: 0.4,
    sizes: [
      { label: '14.5 oz', cents: 149, packs: 2 },
      { label: '28 oz', cents: 259 },
    ],
    brands: [
      ['Red Valley', 'northfield'],
      ['Piazza', 'piazza'],
    ],
  },
  {
    id: 'juice',
    name: 'Juice',
    noun: 'Orange Juice',
    meanGapDays: 8,
    penetration: 0.4,
    storeAffinity: -0.1,
    impulseWeight: 0.8,
    sizes: [
      { label: '52 oz', cents: 429 },
      { label: '89 oz', cents: 649 },
    ],
    brands: [
      ['Sunridge', 'sunridge'],
      ['Orchard Press', 'polar'],
    ],
  },
  {
    id: 'frozen_pizza',
    name: 'Frozen pizza',
    noun: 'Frozen Pizza',
    meanGapDays: null,
    penetration: 0,
    storeAffinity: -0.5,
    impulseWeight: 2.5,
    sizes: [{ label: '12 in', cents: 649 }],
    brands: [
      ['Piazza Forno', 'piazza'],
      ['Oven Ready', 'frostbite'],
    ],
  },
  {
    id: 'ice_cream',
    name: 'Ice cream',
    noun: 'Ice Cream',
    meanGapDays: null,
    penetration: 0,
    storeAffinity: -0.3,
    impulseWeight: 2.5,
    sizes: [
      { label: '1.5 qt', cents: 549 },
      { label: '1 pint', cents: 449 },
    ],
    brands: [
      ['Frostbite', 'frostbite'],
      ['Bluebell Creamery', 'bluebell'],
    ],
  },
  {
    id: 'shampoo',
    name: 'Shampoo',
    noun: 'Shampoo',
    meanGapDays: 40,
    penetration: 0.45,
    storeAffinity: -0.8,
    impulseWeight: 0.3,
    sizes: [
      { label: '12 oz', cents: 699 },
      { label: '25 oz', cents: 1099 },
    ],
    brands: [
      ['Silkara', 'meridian'],
      ['Lumina', 'lumen'],
      ['Pure Rain', 'harbor'],
    ],
  },
  {
    id: 'toothpaste',
    name: 'Toothpaste',
    noun: 'Toothpaste',
    meanGapDays: 35,
    penetration: 0.55,
    storeAffinity: -0.7,
    impulseWeight: 0.3,
    sizes: [
      { label: '4 oz', cents: 399 },
      { label: '6 oz', cents: 529 },
    ],
    brands: [
      ['Brightsmile', 'meridian'],
      ['Dentaguard', 'halvorsen'],
      ['Lumen Fresh', 'lumen'],
    ],
  },
  {
    id: 'paper_towels',
    name: 'Paper towels',
    noun: 'Paper Towels',
    meanGapDays: 18,
    penetration: 0.55,
    storeAffinity: -0.1,
    impulseWeight: 0.3,
    sizes: [
      { label: '2 rolls', cents: 499 },
      { label: '6 rolls', cents: 1299 },
    ],
    brands: [
      ['Quickwipe', 'cottonwood'],
      ['Absorba', 'harbor'],
    ],
  },
  {
    id: 'butter',
    name: 'Butter',
    noun: 'Salted Butter',
    meanGapDays: 18,
    penetration: 0.4,
    storeAffinity: 0.3,
    impulseWeight: 0.3,
    sizes: [{ label: '16 oz', cents: 549 }],
    brands: [
      ['Bluebell', 'bluebell'],
      ['Green Pasture', 'pasture'],
    ],
  },
  {
    id: 'fruit',
    name: 'Bananas and fruit',
    noun: '',
    meanGapDays: 6,
    penetration: 0.6,
    storeAffinity: 0.4,
    impulseWeight: 1,
    sizes: [
      { label: 'Bananas 2 lb', cents: 139 },
      { label: 'Apples 3 lb bag', cents: 499 },
      { label: 'Strawberries 1 lb', cents: 399 },
    ],
    brands: [
      ['Green Valley', 'valley'],
      ['Fieldstone', 'fieldstone'],
    ],
  },
  {
    id: 'chicken',
    name: 'Chicken',
    noun: 'Chicken Breasts',
    meanGapDays: 9,
    penetration: 0.45,
    storeAffinity: 0.2,
    impulseWeight: 0.6,
    sizes: [
      { label: '1.5 lb', cents: 899 },
      { label: '3 lb family pack', cents: 1599 },
    ],
    brands: [
      ['Ridgeway', 'ridgeway'],
      ['Valley Farms', 'valley'],
    ],
  },
  {
    id: 'beer',
    name: 'Beer',
    noun: 'Lager',
    meanGapDays: null,
    penetration: 0,
    storeAffinity: -1.3,
    impulseWeight: 2,
    sizes: [
      { label: '6 x 12 oz', cents: 1099 },
      { label: '12 x 12 oz', cents: 1799 },
    ],
    brands: [
      ['Old Tavern', 'tavern'],
      ['Copper Kettle', 'tavern'],
      ['Lakeside', 'lakeside'],
    ],
  },
  {
    id: 'cookies',
    name: 'Cookies',
    noun: 'Chocolate Chip Cookies',
    meanGapDays: null,
    penetration: 0,
    storeAffinity: -0.3,
    impulseWeight: 2,
    sizes: [{ label: '13 oz', cents: 449 }],
    brands: [
      ["Crumbly's", 'crunchworks'],
      ['Hearthstone', 'hearthstone'],
    ],
  },
  {
    id: 'candy',
    name: 'Candy',
    noun: 'Milk Chocolate',
    meanGapDays: null,
    penetration: 0,
    storeAffinity: -0.8,
    impulseWeight: 2,
    sizes: [
      { label: '1.5 oz bar', cents: 149 },
      { label: '10 oz bag', cents: 499 },
    ],
    brands: [
      ['Sweetwater', 'sweetwater'],
      ['Cocoa Lane', 'sweetwater'],
    ],
  },
];

export interface SimManufacturer {
  id: string;
  name: string;
}

export interface SimCategory {
  index: number;
  id: string;
  name: string;
  /** Staple categories are bought on a personal repurchase rhythm; the others on impulse. */
  staple: boolean;
  meanGapDays: number | null;
  need: HouseholdNeed | null;
  penetration: number;
  storeAffinity: number;
  impulseWeight: number;
  sizes: readonly string[];
  /** Packs per purchase for a low-volume household, per size. */
  packsBySize: readonly number[];
}

export interface PriceChange {
  fromDate: string;
  priceCents: number;
}

export interface SimProduct {
  index: number;
  gtin: string;
  name: string;
  categoryIndex: number;
  categoryId: string;
  categoryName: string;
  brand: string;
  brandType: BrandType;
  manufacturerId: string;
  manufacturerName: string;
  size: string;
  sizeIndex: number;
  /** Shelf price on the last day of the history. */
  priceCents: number;
  /** Shelf price from the first day of the history on; the first entry is the opening price. */
  priceHistory: readonly PriceChange[];
}

/** GS1 check digit of a GTIN body (all digits but the last): weights 3,1,3,… from the right. */
export function gtinCheckDigit(body: string): number {
  if (!/^\d+$/.test(body)) throw new RangeError(`GTIN body must be digits: ${body}`);
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    const digit = body.charCodeAt(body.length - 1 - i) - 48;
    sum += digit * (i % 2 === 0 ? 3 : 1);
  }
  return (10 - (sum % 10)) % 10;
}

export function isValidGtin(gtin: string): boolean {
  return (
    /^\d{8}$|^\d{12,14}$/.test(gtin) &&
    gtinCheckDigit(gtin.slice(0, -1)) === Number(gtin[gtin.length - 1])
  );
}

/** Shelf prices end in 9 (…x9 cents), as grocers price. */
function shelfPrice(cents: number): number {
  return Math.max(49, Math.round(cents / 10) * 10 - 1);
}

/** Store brand never sells above this share of the cheapest national product of the same size. */
const STORE_PRICE_CAP = 0.88;

/**
 * The chain's catalogue: categories, brands, products with GTIN-13s and a shelf price for every day
 * of the history. Deterministic from the seed: which company prefixes, how far each brand's price
 * sits from the category's reference, the store brand's discount and when prices change.
 */
export class Catalogue {
  readonly manufacturers: readonly SimManufacturer[];
  readonly categories: readonly SimCategory[];
  readonly products: readonly SimProduct[];
  /**
   * Product indices per category by brand type. National products run brand by brand (in
   * `brandsByCategory` order), size by size within a brand; store products size by size.
   */
  readonly nationalByCategory: readonly (readonly number[])[];
  readonly storeByCategory: readonly (readonly number[])[];
  /** National brand names per category, market leader first. */
  readonly brandsByCategory: readonly (readonly string[])[];
  readonly productIndexByGtin: ReadonlyMap<string, number>;
  private readonly prices: Int32Array;
  private readonly dayCount: number;

  constructor(
    seed: number,
    readonly firstDay: number,
    lastDay: number,
  ) {
    const rng = new Rng(seed, 0x0ca7a106);
    this.dayCount = lastDay - firstDay + 1;
    this.manufacturers = MANUFACTURERS.map(([id, name]) => ({ id, name }));
    const manufacturerName = new Map(MANUFACTURERS);

    const prefixes = new Map<string, string>();
    const used = new Set<number>();
    const nextItem = new Map<string, number>();
    for (const [id] of MANUFACTURERS) {
      let p: number;
      do p = rng.intBetween(100_000, 999_999);
      while (used.has(p));
      used.add(p);
      prefixes.set(id, String(p));
      nextItem.set(id, rng.intBetween(100, 20_000));
    }
    // GS1 US style GTIN-13: 0 + 6-digit company prefix + 5-digit item reference + check digit.
    const makeGtin = (manufacturerId: string): string => {
      const item = nextItem.get(manufacturerId) as number;
      nextItem.set(manufacturerId, item + rng.intBetween(1, 40));
      const body = `0${prefixes.get(manufacturerId)}${String(item).padStart(5, '0')}`;
      return body + gtinCheckDigit(body);
    };

    const categories: SimCategory[] = [];
    const products: SimProduct[] = [];
    const basePrices: number[] = [];
    const nationalByCategory: number[][] = [];
    const storeByCategory: number[][] = [];
    const brandsByCategory: string[][] = [];

    CATEGORIES.forEach((spec, ci) => {
      categories.push({
        index: ci,
        id: spec.id,
        name: spec.name,
        staple: spec.meanGapDays !== null,
        meanGapDays: spec.meanGapDays,
        need: spec.need ?? null,
        penetration: spec.penetration,
        storeAffinity: spec.storeAffinity,
        impulseWeight: spec.impulseWeight,
        sizes: spec.sizes.map((s) => s.label),
        packsBySize: spec.sizes.map((s) => s.packs ?? 1),
      });
      const nationals: number[] = [];
      const stores: number[] = [];
      const add = (brand: string, manufacturerId: string, sizeIndex: number, cents: number) => {
        const size = spec.sizes[sizeIndex] as SizeSpec;
        const index = products.length;
        products.push({
          index,
          gtin: makeGtin(manufacturerId),
          name: [brand, spec.noun, size.label].filter(Boolean).join(' '),
          categoryIndex: ci,
          categoryId: spec.id,
          categoryName: spec.name,
          brand,
          brandType: manufacturerId === STORE_MANUFACTURER_ID ? 'store' : 'national',
          manufacturerId,
          manufacturerName: manufacturerName.get(manufacturerId) as string,
          size: size.label,
          sizeIndex,
          priceCents: 0,
          priceHistory: [],
        });
        basePrices.push(cents);
        return index;
      };
      const cheapestNational = spec.sizes.map(() => Number.POSITIVE_INFINITY);
      for (const [brand, manufacturerId] of spec.brands) {
        // Brands sit around the reference price: a premium leader, a cheaper challenger.
        const premium = rng.uniform(0.92, 1.15);
        spec.sizes.forEach((size, si) => {
          const cents = shelfPrice(size.cents * premium * rng.uniform(0.98, 1.02));
          cheapestNational[si] = Math.min(cheapestNational[si] as number, cents);
          nationals.push(add(brand, manufacturerId, si, cents));
        });
      }
      const storeDiscount = rng.uniform(0.2, 0.35);
      spec.sizes.forEach((_, si) => {
        const cents = shelfPrice((cheapestNational[si] as number) * (1 - storeDiscount));
        stores.push(add(STORE_BRAND, STORE_MANUFACTURER_ID, si, cents));
      });
      nationalByCategory.push(nationals);
      storeByCategory.push(stores);
      brandsByCategory.push(spec.brands.map(([b]) => b));
    });

    this.categories = categories;
    this.products = products;
    this.nationalByCategory = nationalByCategory;
    this.storeByCategory = storeByCategory;
    this.brandsByCategory = brandsByCategory;
    this.productIndexByGtin = new Map(products.map((p) => [p.gtin, p.index]));
    this.prices = this.schedulePrices(rng, basePrices);
    for (const p of products) {
      p.priceHistory = this.history(p.index);
      p.priceCents = this.priceOn(p.index, lastDay);
    }
  }

  /** Shelf price of a product on a day; before the history the opening price, after it the last. */
  priceOn(productIndex: number, day: number): number {
    const i = Math.min(Math.max(day - this.firstDay, 0), this.dayCount - 1);
    return this.prices[i * this.products.length + productIndex] as number;
  }

  /**
   * A few shelf price changes during the year: a quarter of the products change once or twice,
   * mostly up (cost inflation), sometimes down. The store brand is then held below the cheapest
   * national product of its size on every day, as a store brand's positioning requires.
   */
  private schedulePrices(rng: Rng, base: readonly number[]): Int32Array {
    const products = this.products;
    const n = products.length;
    const days = this.dayCount;
    const table = new Int32Array(days * n);
    for (let p = 0; p < n; p++) {
      const changes: Array<[day: number, factor: number]> = [];
      if (days > 14 && rng.chance(0.25)) {
        const count = rng.chance(0.3) ? 2 : 1;
        for (let k = 0; k < count; k++) {
          const factor = rng.chance(0.7) ? rng.uniform(1.03, 1.1) : rng.uniform(0.92, 0.97);
          changes.push([rng.intBetween(7, days - 1), factor]);
        }
        changes.sort((a, b) => a[0] - b[0]);
      }
      let price = base[p] as number;
      let next = 0;
      for (let d = 0; d < days; d++) {
        while (next < changes.length && (changes[next] as [number, number])[0] === d) {
          price = shelfPrice(price * (changes[next] as [number, number])[1]);
          next++;
        }
        table[d * n + p] = price;
      }
    }
    for (let d = 0; d < days; d++) {
      const row = d * n;
      const cheapest = new Map<string, number>();
      for (const p of products) {
        if (p.brandType !== 'national') continue;
        const key = `${p.categoryIndex}:${p.sizeIndex}`;
        cheapest.set(key, Math.min(cheapest.get(key) ?? Infinity, table[row + p.index] as number));
      }
      for (const p of products) {
        if (p.brandType !== 'store') continue;
        const cap = cheapest.get(`${p.categoryIndex}:${p.sizeIndex}`) as number;
        const limit = Math.floor((cap * STORE_PRICE_CAP + 1) / 10) * 10 - 1;
        if ((table[row + p.index] as number) > limit) table[row + p.index] = limit;
      }
    }
    return table;
  }

  private history(productIndex: number): PriceChange[] {
    const out: PriceChange[] = [];
    let last = -1;
    for (let d = 0; d < this.dayCount; d++) {
      const price = this.prices[d * this.products.length + productIndex] as number;
      if (price !== last) out.push({ fromDate: formatDate(this.firstDay + d), priceCents: price });
      last = price;
    }
    return out;
  }
}
