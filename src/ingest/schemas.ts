import { z } from '@hono/zod-openapi';
import { CardNumber } from '../catalogue/schemas.ts';
import { parseGtin } from '../lib/gtin.ts';
import { unstorableReason } from '../lib/text.ts';
import { parseInstant } from '../lib/time.ts';
import { lineAmountCents, lineDiscountProblem } from '../lib/money.ts';
import { Cents, Gtin, inRange, InstantWithOffset, MAX_INT4, SignedCents, SignedQuantity, StoreId } from '../lib/validators.ts';

/** Text of 1–`max` characters that PostgreSQL can store (no NUL, no lone surrogate). */
const storableString = (max: number) =>
  z
    .string()
    // as the CSV import reads its fields: " T01" and "T01" are one terminal (else a basket posted
    // padded and imported again was stored twice)
    .trim()
    .min(1)
    .max(max)
    .superRefine((v, ctx) => {
      const reason = unstorableReason(v);
      if (reason) ctx.addIssue({ code: 'custom', message: reason });
    });

export const BasketLine = z
  .object({
    gtin: Gtin,
    qty: SignedQuantity.openapi({
      example: 2,
      description: 'Units, or weight for weighed items (3 decimals); negative for an item returned in this transaction',
    }),
    unitPriceCents: Cents.openapi({ example: 349 }),
    lineDiscountCents: SignedCents.default(0).openapi({
      description:
        'Discount on this line, in cents: at most qty × unitPriceCents; on a returned line (negative qty) the ' +
        'discount given back, between qty × unitPriceCents and 0',
    }),
  })
  .strict()
  .superRefine((l, ctx) => {
    const problem = lineDiscountProblem(lineAmountCents(l.qty, l.unitPriceCents), l.lineDiscountCents);
    if (problem) ctx.addIssue({ code: 'custom', path: ['lineDiscountCents'], message: problem });
  })
  .openapi('BasketLine');
export type BasketLine = z.infer<typeof BasketLine>;

export const Basket = z
  .object({
    storeId: StoreId.openapi({ example: 3 }),
    terminalId: storableString(40).openapi({ example: 'T02' }),
    txnId: storableString(80).openapi({ example: '20261124-000123' }),
    ts: InstantWithOffset,
    cardNumber: CardNumber.nullish().openapi({
      description: 'The member card scanned, if any; anonymous baskets count for product statistics',
    }),
    lines: z.array(BasketLine).min(1).max(1000),
  })
  .strict()
  .openapi('Basket');
export type Basket = z.infer<typeof Basket>;

const basketKeys = new Set(['storeId', 'terminalId', 'txnId', 'ts', 'cardNumber', 'lines']);
const lineKeys = new Set(['gtin', 'qty', 'unitPriceCents', 'lineDiscountCents']);
const cardPattern = /^[0-9A-Za-z]{4,40}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCents = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 100_000_000;
const isSignedCents = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= -100_000_000 && v <= 100_000_000;

/**
 * The `Basket` schema's checks written out by hand, for the common case: a valid basket gives
 * what `Basket.parse` would; anything else gives null, and zod decides and words the issues.
 * A batch of 100 baskets has ~1,250 lines, and zod per line was the largest part of a request.
 */
export function fastBasket(item: unknown): Basket | null {
  if (!isRecord(item)) return null;
  for (const k in item) if (!basketKeys.has(k)) return null;
  const { storeId, terminalId, txnId, ts, cardNumber, lines } = item;
  if (typeof storeId !== 'number' || !Number.isSafeInteger(storeId) || storeId <= 0 || storeId > MAX_INT4) return null;
  if (typeof terminalId !== 'string' || terminalId.length < 1 || terminalId.length > 40) return null;
  if (typeof txnId !== 'string' || txnId.length < 1 || txnId.length > 80) return null;
  if (terminalId !== terminalId.trim() || txnId !== txnId.trim()) return null; // zod trims them
  if (unstorableReason(terminalId) !== null || unstorableReason(txnId) !== null) return null;
  if (typeof ts !== 'string') return null;
  const instant = parseInstant(ts);
  if (instant === null || !inRange(instant.seconds * 1000)) return null;
  if (cardNumber !== undefined && cardNumber !== null && (typeof cardNumber !== 'string' || !cardPattern.test(cardNumber))) {
    return null;
  }
  if (!Array.isArray(lines) || lines.length < 1 || lines.length > 1000) return null;
  const out: Basket['lines'] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const l: unknown = lines[i];
    if (!isRecord(l)) return null;
    for (const k in l) if (!lineKeys.has(k)) return null;
    if (typeof l.gtin !== 'string') return null;
    const gtin = parseGtin(l.gtin);
    if (!gtin.ok) return null;
    const qty = l.qty;
    if (typeof qty !== 'number' || !Number.isFinite(qty) || qty === 0 || qty < -100_000 || qty > 100_000) return null;
    if (!(Math.abs(qty * 1000 - Math.round(qty * 1000)) < 1e-6)) return null;
    if (!isCents(l.unitPriceCents)) return null;
    const discount = l.lineDiscountCents === undefined ? 0 : l.lineDiscountCents;
    if (!isSignedCents(discount) || lineDiscountProblem(lineAmountCents(qty, l.unitPriceCents), discount) !== null) return null;
    out[i] = { gtin: gtin.gtin, qty, unitPriceCents: l.unitPriceCents, lineDiscountCents: discount };
  }
  return {
    storeId,
    terminalId,
    txnId,
    ts,
    ...(cardNumber !== undefined ? { cardNumber: cardNumber as string | null } : {}),
    lines: out,
  };
}

/** `Basket.safeParse`, through the fast path when it applies. */
export function parseBasket(item: unknown): { success: true; data: Basket } | ReturnType<typeof Basket.safeParse> {
  const fast = fastBasket(item);
  return fast ? { success: true, data: fast } : Basket.safeParse(item);
}


export const BasketBatch = z
  .object({
    baskets: z
      .array(z.unknown())
      .min(1)
      .max(500)
      .openapi({ type: 'array', items: { $ref: '#/components/schemas/Basket' } }),
  })
  .strict()
  .openapi('BasketBatch');

export const BasketStatus = z
  .enum(['created', 'duplicate', 'conflict', 'rejected'])
  .openapi('BasketStatus', {
    description:
      'created: stored now; duplicate: a retry of a stored basket (same content), nothing new stored; ' +
      'conflict: the key (store, terminal, txn) is taken by a basket with other content; ' +
      'rejected: invalid, nothing stored',
  });

export const BasketOutcome = z
  .object({
    index: z.number().int().openapi({ description: 'Position in the batch' }),
    status: BasketStatus,
    basketId: z.number().int().nullable(),
    storeId: z.number().int().nullable(),
    terminalId: z.string().nullable(),
    txnId: z.string().nullable(),
    unknownGtins: z.array(z.string()).openapi({
      description: 'GTINs of this basket not (yet) described by the catalogue; stored anyway',
    }),
    issues: z.array(z.object({ path: z.string(), message: z.string() })),
  })
  .openapi('BasketOutcome');
export type BasketOutcome = z.infer<typeof BasketOutcome>;

export const BatchResult = z
  .object({
    created: z.number().int(),
    duplicates: z.number().int(),
    conflicts: z.number().int(),
    rejected: z.number().int(),
    results: z.array(BasketOutcome),
  })
  .openapi('BatchResult');
export type BatchResult = z.infer<typeof BatchResult>;
