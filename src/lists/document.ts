import { z } from '@hono/zod-openapi';
import { Cents, LocalDate, orNull } from '../lib/validators.ts';
import {
  cardBarcode,
  LIST_SERIAL_PATTERN,
  listBarcode,
  OFFER_SERIAL_PATTERN,
  offerBarcode,
  type BarcodeSpec,
} from './barcodes.ts';

/**
 * The view model of one personal shopping list: everything the PDF and the apps show, already
 * chosen and priced. It holds no database ids beyond the serials the barcodes carry, so whoever
 * composes it (the period job, an API handler, a test) and whoever renders it (pdf.ts, an app via
 * JSON) agree on this shape only.
 */

/**
 * Offers (and rewards) one list carries: as many as `lists.max_offers` may give (rules/settings.ts);
 * the PDF runs onto further pages. A lower cap here dropped offers from the printed list.
 */
export const MAX_LIST_OFFERS = 100;

const Money = Cents.openapi({ description: 'US cents', example: 349 });
const Text = (max: number) => z.string().min(1).max(max);

export const ListSerial = z
  .string()
  .regex(LIST_SERIAL_PATTERN, '6–20 characters 0-9 A-Z')
  .openapi({ description: 'Identifies the list at checkout (Code 128 with a check character)', example: 'K7Q2M4X9' });

export const OfferSerial = z
  .string()
  .regex(OFFER_SERIAL_PATTERN, '6–12 digits')
  .openapi({ description: 'Unique per printed offer; carried by its GS1 barcode', example: '000123456' });

const CompanyPrefix = z.string().regex(/^\d{6,12}$/, 'a GS1 company prefix is 6–12 digits');

export const CouponId = z
  .discriminatedUnion('scheme', [
    z
      .object({
        scheme: z.literal('gcn'),
        companyPrefix: CompanyPrefix,
        couponReference: z.string().regex(/^\d{0,6}$/, 'up to 6 digits'),
      })
      .strict()
      .refine((c) => c.companyPrefix.length + c.couponReference.length <= 12, {
        path: ['couponReference'],
        message: 'company prefix and coupon reference together are at most 12 digits',
      }),
    z
      .object({
        scheme: z.literal('paperless'),
        companyPrefix: CompanyPrefix,
        offerCode: z.string().regex(/^\d{6}$/, '6 digits'),
      })
      .strict(),
  ])
  .openapi('CouponId', {
    description: 'gcn: GS1 Global Coupon Number (AI 255, GS1-128); paperless: AI 8112 (DataBar Expanded)',
  });
export type CouponId = z.infer<typeof CouponId>;

export const Discount = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('amount'), amountCents: Money.min(1) }).strict(),
    // as the offer stores it (numeric(12, 2)): the till applies 12.5%, so the list says 12.5%
    z
      .object({
        kind: z.literal('percent'),
        percent: z
          .number()
          .gt(0)
          .max(100)
          .refine((p) => Math.abs(p * 100 - Math.round(p * 100)) < 1e-9, 'at most 2 decimals'),
      })
      .strict(),
    z.object({ kind: z.literal('price'), priceCents: Money, quantity: z.number().int().min(1).max(99) }).strict(),
    z.object({ kind: z.literal('free'), buy: z.number().int().min(1).max(50), get: z.number().int().min(1).max(50) }).strict(),
  ])
  .openapi('Discount', { description: 'amount off, percent off, a price for a quantity ("2 for $5"), or buy X get Y free' });
export type Discount = z.infer<typeof Discount>;

export const StoreBranding = z
  .object({
    storeId: z.number().int().positive(),
    chainName: Text(60),
    storeName: Text(80),
    address: z.string().max(160).nullish(),
    tagline: z.string().max(120).nullish(),
    /** Brand colour of the header band and headings. */
    brandColor: z.string().regex(/^#[0-9a-fA-F]{6}$/, '#rrggbb').default('#1f6f43'),
  })
  .strict()
  .openapi('StoreBranding');
export type StoreBranding = z.infer<typeof StoreBranding>;

export const DueItem = z
  .object({
    /** The catalogue's name, or "Item <gtin>" when the catalogue has none (a placeholder product). */
    name: Text(80),
    size: z.string().max(30).nullish(),
    /** Today's shelf price; null when the catalogue has none: the list says "price at store". */
    priceCents: Money.nullable().openapi({ description: 'US cents; null: no price on file ("price at store")', example: 349 }),
    /** The serial of the offer on this list that applies to the item, if any. */
    offerSerial: OfferSerial.nullish(),
  })
  .strict()
  .openapi('DueItem');
export type DueItem = z.infer<typeof DueItem>;

export const ListOffer = z
  .object({
    serial: OfferSerial,
    description: Text(120),
    discount: Discount,
    validFromDate: LocalDate,
    validToDate: LocalDate,
    coupon: CouponId,
    /** Fine print such as "Limit 1 per visit". */
    terms: z.string().max(160).nullish(),
  })
  .strict()
  .openapi('ListOffer');
export type ListOffer = z.infer<typeof ListOffer>;

export const RewardCoupon = z
  .object({
    serial: OfferSerial,
    description: Text(120),
    valueCents: Money.min(1),
    validFromDate: LocalDate,
    validToDate: LocalDate,
    coupon: CouponId,
    terms: z.string().max(160).nullish(),
  })
  .strict()
  .openapi('RewardCoupon');
export type RewardCoupon = z.infer<typeof RewardCoupon>;

export const ContentPiece = z
  .object({
    kind: z.enum(['recipe', 'meal_plan', 'tip']),
    title: Text(80),
    body: z.string().max(600),
    /** Ingredients, days of a meal plan, or steps: one short line each. */
    lines: z.array(z.string().min(1).max(100)).max(10).default([]),
  })
  .strict()
  .openapi('ContentPiece');
export type ContentPiece = z.infer<typeof ContentPiece>;

export const TierPerk = z
  .object({ code: z.string().regex(/^[a-z0-9_]{1,40}$/), title: Text(60), description: z.string().max(160) })
  .strict()
  .openapi('TierPerk');
export type TierPerk = z.infer<typeof TierPerk>;

/** live: the list to shop with; voided: a regenerate of its period voided it (and its offers). */
export const ListStatus = z
  .enum(['live', 'voided'])
  .openapi({ description: 'live, or voided by a regenerate of its period (its offers no longer apply)', example: 'live' });
export type ListStatus = z.infer<typeof ListStatus>;

export const ListDocument = z
  .object({
    listSerial: ListSerial,
    status: ListStatus.default('live'),
    /** The member's list that replaced this voided one (null: live, or nothing replaced it). */
    replacedBy: ListSerial.nullish(),
    memberNumber: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
    cardNumber: z.string().regex(/^[0-9A-Za-z]{4,40}$/).nullish(),
    /** Member's name as addressed on the list ("Dear …"); optional, lists work without it. */
    greetingName: z.string().max(60).nullish(),
    periodFromDate: LocalDate,
    periodToDate: LocalDate,
    store: StoreBranding,
    dueSoon: z.array(DueItem).max(40),
    offers: z.array(ListOffer).max(MAX_LIST_OFFERS),
    rewards: z.array(RewardCoupon).max(MAX_LIST_OFFERS),
    content: ContentPiece.nullish(),
    perks: z.array(TierPerk).max(6),
  })
  .strict()
  .superRefine((doc, ctx) => {
    if (doc.replacedBy && doc.status !== 'voided') {
      ctx.addIssue({ code: 'custom', path: ['replacedBy'], message: 'only a voided list is replaced' });
    }
    if (doc.periodToDate < doc.periodFromDate) {
      ctx.addIssue({ code: 'custom', path: ['periodToDate'], message: 'ends before it starts' });
    }
    const serials = new Set<string>();
    const coupons = [
      ...doc.offers.map((o, i) => ['offers', i, o] as const),
      ...doc.rewards.map((r, i) => ['rewards', i, r] as const),
    ];
    for (const [section, i, c] of coupons) {
      if (serials.has(c.serial)) {
        ctx.addIssue({ code: 'custom', path: [section, i, 'serial'], message: 'serial used twice on the list' });
      }
      serials.add(c.serial);
      if (c.validToDate < c.validFromDate) {
        ctx.addIssue({ code: 'custom', path: [section, i, 'validToDate'], message: 'ends before it starts' });
      }
    }
    const offerSerials = new Set(doc.offers.map((o) => o.serial));
    doc.dueSoon.forEach((item, i) => {
      if (item.offerSerial && !offerSerials.has(item.offerSerial)) {
        ctx.addIssue({ code: 'custom', path: ['dueSoon', i, 'offerSerial'], message: 'no offer with this serial on the list' });
      }
    });
  })
  .openapi('ListDocument');
export type ListDocument = z.infer<typeof ListDocument>;
/** What callers may pass: defaults (brand colour, content lines) not yet applied. */
export type ListDocumentInput = z.input<typeof ListDocument>;

const Barcode = z
  .object({
    symbology: z.enum(['code128', 'gs1-128', 'databar-expanded']),
    text: z.string().openapi({ description: 'Encoder input; GS1 symbols in (AI)data form' }),
    hri: z.string().openapi({ description: 'Human-readable line printed under the bars' }),
  })
  .openapi('Barcode');

/** The JSON an app receives: the document plus every barcode it must draw, computed here. */
export const ListDocumentJson = z
  .object({
    listSerial: ListSerial,
    status: ListStatus,
    replacedBy: ListSerial.nullable().openapi({
      description: 'Voided lists: the serial of the member\'s list that replaced it; null when live or when none did',
      example: null,
    }),
    memberNumber: z.string(),
    cardNumber: z.string().nullable(),
    greetingName: z.string().nullable(),
    periodFromDate: z.string(),
    periodToDate: z.string(),
    store: StoreBranding,
    listBarcode: Barcode,
    cardBarcode: orNull(Barcode),
    // Spread, not .extend(): zod-openapi writes an extended component as allOf [$ref, extension],
    // and both halves are closed (.strict()), so no object could match both.
    dueSoon: z.array(z.object({ ...DueItem.shape, offerMarker: z.string().nullable() }).strict()),
    offers: z.array(z.object({ ...ListOffer.shape, discountText: z.string(), barcode: Barcode }).strict()),
    rewards: z.array(z.object({ ...RewardCoupon.shape, valueText: z.string(), barcode: Barcode }).strict()),
    content: orNull(ContentPiece),
    perks: z.array(TierPerk),
  })
  .openapi('ListDocumentJson');
export type ListDocumentJson = z.infer<typeof ListDocumentJson>;

export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}$${Math.floor(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`;
}

/** "$1.00 off", "25% off", "2 for $5.00". */
export function discountText(d: Discount): string {
  switch (d.kind) {
    case 'amount':
      return `${formatCents(d.amountCents)} off`;
    case 'percent':
      return `${d.percent}% off`;
    case 'price':
      return d.quantity === 1 ? `Now ${formatCents(d.priceCents)}` : `${d.quantity} for ${formatCents(d.priceCents)}`;
    case 'free':
      return `Buy ${d.buy}, get ${d.get} free`;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Nov 30, 2026" from a store-local YYYY-MM-DD. */
export function formatDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return `${MONTHS[m - 1]} ${d}, ${y}`;
}

/** "Nov 30 – Dec 13, 2026" (the year once when both dates share it). */
export function formatPeriod(from: string, to: string): string {
  const a = formatDate(from);
  const b = formatDate(to);
  return from.slice(0, 4) === to.slice(0, 4) ? `${a.slice(0, -6)} – ${b}` : `${a} – ${b}`;
}

export function offerBarcodeSpec(o: { coupon: CouponId; serial: string }): BarcodeSpec {
  return offerBarcode(o.coupon, o.serial);
}

/** Validates `input` and derives the app JSON (barcode texts, discount texts, offer markers). */
export function listDocumentJson(input: ListDocumentInput): ListDocumentJson {
  const doc = ListDocument.parse(input);
  const offerIndex = new Map(doc.offers.map((o, i) => [o.serial, i]));
  return {
    listSerial: doc.listSerial,
    status: doc.status,
    replacedBy: doc.replacedBy ?? null,
    memberNumber: doc.memberNumber,
    cardNumber: doc.cardNumber ?? null,
    greetingName: doc.greetingName ?? null,
    periodFromDate: doc.periodFromDate,
    periodToDate: doc.periodToDate,
    store: doc.store,
    listBarcode: listBarcode(doc.listSerial),
    cardBarcode: doc.cardNumber ? cardBarcode(doc.cardNumber) : null,
    dueSoon: doc.dueSoon.map((item) => ({
      ...item,
      offerMarker: item.offerSerial ? offerMarker(offerIndex.get(item.offerSerial)!, doc.offers) : null,
    })),
    offers: doc.offers.map((o) => ({ ...o, discountText: discountText(o.discount), barcode: offerBarcodeSpec(o) })),
    rewards: doc.rewards.map((r) => ({ ...r, valueText: `${formatCents(r.valueCents)} reward`, barcode: offerBarcodeSpec(r) })),
    content: doc.content ?? null,
    perks: doc.perks,
  };
}

/** What the list prints for a due item's price: "$3.49", or "price at store" when it has none. */
export function duePriceText(priceCents: number | null): string {
  return priceCents === null ? 'price at store' : formatCents(priceCents);
}

/** The banner a voided list prints at the top of every page. */
export function voidText(doc: Pick<ListDocument, 'replacedBy'>): string {
  return doc.replacedBy ? `VOID — replaced by list ${doc.replacedBy}` : 'VOID — no longer valid';
}

/** The marker a due item carries when an offer applies: "Offer 3: $1.00 off". */
export function offerMarker(index: number, offers: ListOffer[]): string {
  return `Offer ${index + 1}: ${discountText(offers[index]!.discount)}`;
}
