import type { ListDocumentInput } from '../../src/lists/document.ts';

/**
 * A realistic list: a dozen due items (some with offers), GCN and paperless offers, two rewards,
 * a recipe and tier perks. Serials and numbers are derived from `seed` so a batch has distinct ones.
 */
export function sampleList(seed = 1, overrides: Partial<ListDocumentInput> = {}): ListDocumentInput {
  const serial = (n: number) => String(seed * 1000 + n).padStart(9, '0');
  const items: [string, string, number][] = [
    ['Whole milk', '1 gal', 389],
    ['Store-brand ibuprofen 200 mg', '100 ct', 599],
    ['Bananas', 'per lb', 59],
    ['Large eggs', '12 ct', 329],
    ['Sourdough bread', '24 oz', 449],
    ['Greek yogurt, plain', '32 oz', 579],
    ['Ground coffee, medium roast', '12 oz', 899],
    ['Baby spinach', '5 oz', 399],
    ['Dog food, chicken & rice', '15 lb', 2499],
    ['Paper towels', '6 rolls', 1099],
    ['Cheddar cheese, sharp', '8 oz', 349],
    ['Orange juice, no pulp', '52 oz', 479],
  ];
  const offers = [
    { description: 'Store-brand ibuprofen 200 mg, any size', discount: { kind: 'amount' as const, amountCents: 200 }, coupon: { scheme: 'gcn' as const, companyPrefix: '0614141', couponReference: '00042' } },
    { description: 'Greek yogurt, any 32 oz tub', discount: { kind: 'percent' as const, percent: 25 }, coupon: { scheme: 'paperless' as const, companyPrefix: '0614141', offerCode: '004321' } },
    { description: 'Ground coffee, 12 oz bags', discount: { kind: 'price' as const, priceCents: 1500, quantity: 2 }, coupon: { scheme: 'gcn' as const, companyPrefix: '061414199', couponReference: '7' } },
    { description: 'Dog food, 15 lb bag', discount: { kind: 'amount' as const, amountCents: 300 }, coupon: { scheme: 'paperless' as const, companyPrefix: '012345678', offerCode: '100200' } },
    { description: 'Baby spinach, 5 oz clamshell', discount: { kind: 'amount' as const, amountCents: 50 }, coupon: { scheme: 'gcn' as const, companyPrefix: '0614141', couponReference: '00077' } },
  ].map((o, i) => ({ ...o, serial: serial(i + 1), validFromDate: '2026-11-30', validToDate: '2026-12-13', terms: i === 0 ? 'Limit 1 per visit. Not valid with other offers on the same item.' : null }));
  const onItem: Record<number, number> = { 1: 0, 5: 1, 6: 2, 8: 3, 7: 4 };
  return {
    listSerial: `K${String(seed).padStart(7, '0')}`,
    memberNumber: `M${String(seed).padStart(7, '0')}`,
    cardNumber: `6${String(seed * 7919).padStart(10, '0')}4`,
    greetingName: 'Ann',
    periodFromDate: '2026-11-30',
    periodToDate: '2026-12-13',
    store: { storeId: 3, chainName: 'Harvest Market', storeName: 'Store 3 – Riverside', address: '120 River Rd, Springfield', tagline: 'Fresh since 1962', brandColor: '#1f6f43' },
    dueSoon: items.map(([name, size, priceCents], i) => ({ name, size, priceCents, offerSerial: onItem[i] !== undefined ? offers[onItem[i]]!.serial : null })),
    offers,
    rewards: [
      { serial: serial(90), description: 'Thank you for 2 years with us: $5 off your next basket of $40 or more', valueCents: 500, validFromDate: '2026-11-30', validToDate: '2026-12-27', coupon: { scheme: 'gcn', companyPrefix: '0614141', couponReference: '90001' }, terms: null },
    ],
    content: {
      kind: 'recipe',
      title: 'One-pan chicken with spinach and lemon',
      body: 'Ready in 30 minutes and uses what is already on your list.',
      lines: ['4 chicken thighs', '5 oz baby spinach', '1 lemon, sliced', '2 cloves garlic', 'Sear the chicken 6 min a side, add garlic and lemon, wilt the spinach on top.'],
    },
    perks: [
      { code: 'express_lane', title: 'Express lane', description: 'Use the express lane with any number of items.' },
      { code: 'home_delivery', title: 'Free home delivery', description: 'On orders over $50 placed by phone or online.' },
    ],
    ...overrides,
  };
}

/**
 * A list in the languages a chain's members read beyond Latin-1: a Polish greeting and items, Greek
 * and Cyrillic items, offers and content. `cjk` is an item whose name DejaVu Sans has no glyphs for.
 */
export const nonLatin = {
  greetingName: 'Łukasz',
  items: ['Żubrówka Bison Grass 0,5 l', 'Ελληνικό γιαούρτι', 'Кефир 2,5%', 'Świeże pierogi z kapustą'],
  sizes: ['0,5 l', '1 κιλό', '900 мл', '400 g'],
  offer: 'Сметана и творог, любая упаковка',
  contentTitle: 'Żurek z jajkiem — zupa na żytnim zakwasie',
  cjk: { name: '豆腐 Tofu', printed: '?? Tofu' },
};

export function nonLatinList(seed = 1): ListDocumentInput {
  const base = sampleList(seed);
  const names = nonLatin.items;
  return {
    ...base,
    greetingName: nonLatin.greetingName,
    store: { ...base.store, storeName: 'Sklep 3 – Łódź' },
    dueSoon: base.dueSoon.map((d, i) => (i < names.length ? { ...d, name: names[i]!, size: nonLatin.sizes[i]! } : i === names.length ? { ...d, name: nonLatin.cjk.name } : d)),
    offers: base.offers.map((o, i) => (i === 1 ? { ...o, description: nonLatin.offer } : o)),
    content: { ...base.content!, title: nonLatin.contentTitle },
  };
}
