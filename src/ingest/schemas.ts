import { z } from '@hono/zod-openapi';
import { CardNumber } from '../catalogue/schemas.ts';
import { Cents, Gtin, InstantWithOffset } from '../lib/validators.ts';

export const BasketLine = z
  .object({
    gtin: Gtin,
    qty: z
      .number()
      .positive()
      .max(100_000)
      .refine((q) => Math.abs(q * 1000 - Math.round(q * 1000)) < 1e-6, 'at most 3 decimals')
      .openapi({ example: 2, description: 'Units, or weight for weighed items (3 decimals)' }),
    unitPriceCents: Cents.openapi({ example: 349 }),
    lineDiscountCents: Cents.default(0).openapi({ description: 'Discount on this line, in cents' }),
  })
  .strict()
  .openapi('BasketLine');
export type BasketLine = z.infer<typeof BasketLine>;

export const Basket = z
  .object({
    storeId: z.number().int().positive().openapi({ example: 3 }),
    terminalId: z.string().min(1).max(40).openapi({ example: 'T02' }),
    txnId: z.string().min(1).max(80).openapi({ example: '20261124-000123' }),
    ts: InstantWithOffset,
    cardNumber: CardNumber.nullish().openapi({
      description: 'The member card scanned, if any; anonymous baskets count for product statistics',
    }),
    lines: z.array(BasketLine).min(1).max(1000),
  })
  .strict()
  .openapi('Basket');
export type Basket = z.infer<typeof Basket>;

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
