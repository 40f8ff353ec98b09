import { z } from '@hono/zod-openapi';
import { CardNumber } from '../catalogue/schemas.ts';
import { lineAmountCents } from '../lib/money.ts';
import { Cents, Gtin, InstantWithOffset, MAX_INT4, Quantity, StoreId, StoreIdInPath } from '../lib/validators.ts';

const Serial = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const IdentityInput = z
  .object({
    cardNumber: CardNumber.optional(),
    memberNumber: z.string().min(1).max(40).optional(),
    listId: Serial.optional().openapi({ description: 'The list serial (from the list barcode)' }),
    offerId: Serial.optional().openapi({ description: 'An offer serial (from an offer barcode)' }),
    scan: z.string().min(1).max(200).optional().openapi({
      description: 'What the scanner read: a list barcode (L…), an offer barcode ((255)… or (8112)…), or a card',
    }),
  })
  .strict()
  .refine((v) => Object.values(v).filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of scan, cardNumber, memberNumber, listId, offerId',
  })
  .openapi('Identity');

export const CheckoutLineInput = z
  .object({
    gtin: Gtin,
    qty: Quantity,
    unitPriceCents: Cents,
    lineDiscountCents: Cents.default(0).openapi({ description: "The POS's own discount on this line" }),
  })
  .strict()
  .refine((l) => l.lineDiscountCents <= lineAmountCents(l.qty, l.unitPriceCents), {
    path: ['lineDiscountCents'],
    message: 'exceeds the line amount',
  })
  .openapi('CheckoutLine');

/**
 * A sale's lines. Their amounts (qty × unitPriceCents) may add up to at most MAX_INT4 cents
 * ($21 million): an offer's discount on them is stored as an integer (offer_redemptions,
 * basket_lines), and 30% off 100,000 units at $1,000,000 was a 500 at commit.
 */
const SaleLines = z
  .array(CheckoutLineInput)
  .min(1)
  .max(1000)
  .refine((lines) => lines.reduce((s, l) => s + lineAmountCents(l.qty, l.unitPriceCents), 0) <= MAX_INT4, {
    message: `the lines add up to more than ${MAX_INT4} cents`,
  });

const Key = {
  storeId: StoreId.openapi({ example: 3 }),
  terminalId: z.string().min(1).max(40).openapi({ example: 'T02' }),
  txnId: z.string().min(1).max(80).openapi({ example: '20261124-000123' }),
};

export const QuoteRequest = z
  .object({
    ...Key,
    ts: InstantWithOffset,
    identity: IdentityInput.nullish().openapi({ description: 'Who buys; null or left out: an anonymous sale' }),
    lines: SaleLines,
  })
  .strict()
  .openapi('QuoteRequest');

export const CommitRequest = z
  .object({
    ...Key,
    ts: InstantWithOffset,
    identity: IdentityInput.nullish().openapi({ description: 'Who buys; null or left out: an anonymous sale' }),
    lines: SaleLines,
    offline: z.boolean().default(false).openapi({
      description: 'Posted later by a POS that redeemed from its offer file while offline',
    }),
    offerIds: z.array(Serial).max(100).optional().openapi({
      description: 'Offline: the offers the POS applied (online the server decides)',
    }),
    offlineDiscounts: z
      .array(z.object({ offerId: Serial, discountCents: Cents }).strict())
      .max(100)
      .optional()
      .openapi({
        description:
          'Offline, optional: what the lane gave for an offer of offerIds, in cents (each offer at most ' +
          'once, at most the sale\'s total after its lines\' own discounts). An offer that could not count ' +
          'is recorded in conflicts and in the store reconciliation with this amount; for an offer not ' +
          'listed here, with the amount Cadence computes on the basket (0 when the offer does not apply ' +
          'to it: below its minimum, wrong product…).',
        example: [{ offerId: 4711, discountCents: 165 }],
      }),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (!r.offline) {
      if (r.offerIds !== undefined) ctx.addIssue({ code: 'custom', path: ['offerIds'], message: 'only for offline commits' });
      if (r.offlineDiscounts !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['offlineDiscounts'], message: 'only for offline commits' });
      }
      return;
    }
    if (!r.offlineDiscounts) return;
    const applied = new Set(r.offerIds ?? []);
    const seen = new Set<number>();
    const total = r.lines.reduce((s, l) => s + lineAmountCents(l.qty, l.unitPriceCents) - l.lineDiscountCents, 0);
    r.offlineDiscounts.forEach((d, i) => {
      if (seen.has(d.offerId)) {
        ctx.addIssue({ code: 'custom', path: ['offlineDiscounts', i, 'offerId'], message: `offer ${d.offerId} is given more than once` });
      } else if (!applied.has(d.offerId)) {
        ctx.addIssue({ code: 'custom', path: ['offlineDiscounts', i, 'offerId'], message: `offer ${d.offerId} is not among offerIds` });
      }
      seen.add(d.offerId);
      if (d.discountCents > total) {
        ctx.addIssue({
          code: 'custom', path: ['offlineDiscounts', i, 'discountCents'],
          message: `more than the sale's total (${total} cents)`,
        });
      }
    });
  })
  .openapi('CommitRequest');

export const IdentifyRequest = z
  .object({ storeId: Key.storeId, identity: IdentityInput })
  .strict()
  .openapi('IdentifyRequest');

export const VoidRequest = z.object({ ...Key, ts: InstantWithOffset }).strict().openapi('VoidRequest');

export const ReturnRequest = z
  .object({
    ...Key,
    ts: InstantWithOffset,
    original: z
      .object({ storeId: Key.storeId.optional(), terminalId: Key.terminalId, txnId: Key.txnId })
      .strict(),
    lines: z
      .array(z.object({ gtin: Gtin, qty: Quantity }).strict())
      .min(1)
      .max(1000),
  })
  .strict()
  .openapi('ReturnRequest');

const Allocation = z.object({ line: z.number().int(), cents: z.number().int() });
const AppliedOffer = z
  .object({
    offerId: z.number().int(),
    campaignId: z.string(),
    name: z.string(),
    kind: z.string(),
    discountCents: z.number().int(),
    allocations: z.array(Allocation).openapi({ description: 'Cents per request line (index); they sum to discountCents' }),
  })
  .openapi('AppliedOffer');

export const QuoteResult = z
  .object({
    memberNumber: z.string().nullable(),
    applied: z.array(AppliedOffer),
    notApplied: z.array(
      z.object({
        offerId: z.number().int(),
        campaignId: z.string(),
        reason: z.enum(['wrong_product', 'below_min_qty', 'below_min_spend', 'expired', 'not_yet_valid', 'already_used', 'reserved']),
      }),
    ),
    subtotalCents: z.number().int(),
    discountCents: z.number().int(),
    totalCents: z.number().int(),
    reservedUntil: z.string().nullable(),
  })
  .openapi('QuoteResult');

/** Which amount an offline conflict holds. */
const OFFLINE_CONFLICT_CENTS =
  'What the lane gave, as its offlineDiscounts said; when it said nothing for the offer, what Cadence ' +
  'computes on the basket (0 for an offer that does not apply to it)';

export const CommitResult = QuoteResult.extend({
  basketId: z.number().int(),
  conflicts: z.array(
    z.object({
      offerId: z.number().int(),
      reason: z.string(),
      discountCents: z.number().int().openapi({ description: OFFLINE_CONFLICT_CENTS }),
    }),
  ),
  replayed: z.boolean(),
}).openapi('CommitResult');

export const ReturnResult = z
  .object({
    basketId: z.number().int(),
    refundCents: z.number().int(),
    reversed: z.array(z.object({ offerId: z.number().int(), cents: z.number().int(), useRestored: z.boolean() })),
    replayed: z.boolean(),
  })
  .openapi('ReturnResult');

export const LiveOffer = z
  .object({
    offerId: z.number().int(),
    campaignId: z.string(),
    name: z.string(),
    kind: z.string(),
    value: z.number(),
    minQty: z.number().int(),
    maxUnits: z.number().int().nullable(),
    minSpendCents: z.number().int().openapi({ description: 'Rewards: the basket must reach this (after earlier discounts)' }),
    gtins: z.array(z.string()),
    validFrom: z.string(),
    validTo: z.string(),
    usesLeft: z.number().int(),
  })
  .openapi('LiveOffer');

export const IdentifyResult = z
  .object({
    memberNumber: z.string().nullable(),
    cardNumber: z.string().nullable(),
    listId: z.number().int().nullable(),
    offers: z.array(LiveOffer),
  })
  .openapi('IdentifyResult');

export const OfferFile = z
  .object({
    storeId: z.number().int(),
    generatedAt: z.string(),
    since: z.string().nullable(),
    offers: z.array(
      LiveOffer.extend({ memberNumber: z.string().nullable(), cardNumber: z.string().nullable(), listId: z.number().int().nullable(), status: z.string() }),
    ),
  })
  .openapi('OfferFile');

export const ReconciliationQuery = z
  .object({
    status: z.enum(['open', 'acknowledged', 'all']).default('open').openapi({
      description: 'open (default): not acknowledged yet; acknowledged; or all',
    }),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
    after: z.string().optional().openapi({ description: 'The nextCursor of the page before (opaque)' }),
  })
  .strict();

export const Reconciliation = z
  .object({
    storeId: z.number().int(),
    status: z.enum(['open', 'acknowledged', 'all']),
    /** The store's open conflicts, all pages: what store IT still has to look at. */
    open: z.object({ conflicts: z.number().int(), discountCents: z.number().int() }),
    conflicts: z.array(
      z.object({
        terminalId: z.string(),
        txnId: z.string(),
        offerId: z.number().int(),
        memberNumber: z.string().nullable(),
        reason: z.string(),
        discountCents: z.number().int().openapi({ description: OFFLINE_CONFLICT_CENTS }),
        ts: z.string(),
        acknowledgedAt: z.string().nullable(),
      }),
    ),
    nextCursor: z.string().nullable().openapi({ description: 'Pass as `after` for the next page; null on the last' }),
  })
  .openapi('Reconciliation');

export const AcknowledgeRequest = z
  .object({
    conflicts: z
      .array(z.object({ terminalId: Key.terminalId, txnId: Key.txnId, offerId: z.number().int().positive() }).strict())
      .min(1)
      .max(1000),
  })
  .strict()
  .openapi('AcknowledgeConflicts');

export const AcknowledgeResult = z
  .object({
    /** Acknowledged by this request. */
    acknowledged: z.number().int(),
    /** Acknowledged before (a retry, or another person): left as they were. */
    alreadyAcknowledged: z.number().int(),
  })
  .openapi('AcknowledgeResult');

export const StoreIdParam = z.object({
  id: StoreIdInPath.openapi({ param: { name: 'id', in: 'path' }, example: 3 }),
});
export const SinceQuery = z
  .object({
    cursor: z
      .string()
      .regex(/^\d{1,19}$/, 'expected the cursor of an earlier offer file')
      .refine((c) => !/^\d+$/.test(c) || BigInt(c) <= 2n ** 63n - 1n, 'expected the cursor of an earlier offer file')
      .optional()
      .openapi({
        description:
          'Only offers changed since the file that returned this cursor (every file, and every 304, ' +
          'gives one in its Cadence-Cursor header): nothing committed after that file was read is missed',
      }),
    since: InstantWithOffset.optional().openapi({
      description:
        'Only offers changed after this instant, by the time their change started: a change ' +
        'committed later than it started (a long list job) can be missed; prefer cursor',
    }),
  })
  .refine((q) => !(q.cursor && q.since), { path: ['cursor'], message: 'give cursor or since, not both' });
