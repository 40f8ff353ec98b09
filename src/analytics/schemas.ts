import { z } from '@hono/zod-openapi';
import { MemberNumber } from '../catalogue/index.ts';
import { Code } from '../lib/validators.ts';

const AsOf = z.string().nullable().openapi({
  format: 'date-time',
  description: 'Instant the analysis ran as of (history before it only); null if it never ran',
  example: '2026-11-24T05:00:00.000Z',
});

export const MemberNumberParam = z.object({
  memberNumber: MemberNumber.openapi({
    param: { name: 'memberNumber', in: 'path' },
    description: "The chain's member number (never the internal id)",
    example: 'M0000042',
  }),
});

export const CategoryIdParam = z.object({
  id: Code.openapi({ param: { name: 'id', in: 'path' }, example: 'coffee' }),
});

const Loyalty = z.enum(['national', 'store', 'switcher', 'unclassified']);
const Volume = z.enum(['low', 'medium', 'high', 'unclassified']);

export const MemberCell = z
  .object({
    categoryId: z.string(),
    categoryName: z.string().nullable(),
    loyalty: Loyalty.openapi({ description: 'From the store-brand share of units' }),
    volume: Volume.openapi({
      description: "Tertile of units per week among the category's buyers",
    }),
    purchaseDays: z.number().int(),
    units: z.number(),
    spendCents: z.number().int(),
    storeShare: z.number().nullable().openapi({ description: 'Store-brand share of units, 0–1' }),
  })
  .openapi('MemberCell');

export const DueProduct = z
  .object({
    gtin: z.string(),
    name: z.string().nullable(),
    rank: z.number().int(),
    score: z.number(),
    predictedDate: z
      .string()
      .openapi({ example: '2026-11-29', description: 'Next expected purchase' }),
    probability: z
      .number()
      .openapi({ description: 'Calibrated probability of a purchase within windowDays' }),
    windowDays: z.number().int().openapi({ example: 14 }),
  })
  .openapi('DueProduct');

export const MemberProfile = z
  .object({
    memberNumber: z.string().openapi({ example: 'M0000042' }),
    asOf: AsOf,
    qualified: z
      .boolean()
      .nullable()
      .openapi({
        description: 'Average weekly spend over the qualification weeks reaches the threshold',
      }),
    weeklySpendCents: z.number().int().nullable(),
    spendCents: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Spend over the look-back (52 weeks by default)' }),
    visitDays: z.number().int().nullable(),
    tier: z.enum(['key', 'regular', 'inactive']).nullable(),
    shareOfWallet: z
      .number()
      .nullable()
      .openapi({ description: 'Estimated share of grocery needs bought here, 0–1' }),
    stage: z.enum(['development', 'initial', 'stable', 'strategic']).nullable(),
    churn: z
      .object({
        risk: z.boolean(),
        reason: z.enum(['visit_gap', 'spend_drop']).nullable(),
        lastVisitDate: z.string().nullable().openapi({ example: '2026-11-20' }),
        daysSinceLastVisit: z.number().int().nullable(),
        meanVisitGapDays: z.number().nullable(),
        visitGapProbability: z
          .number()
          .nullable()
          .openapi({ description: "Chance of a gap this long under the member's own rhythm" }),
        recentSpendCents: z.number().int(),
        priorSpendCents: z.number().int(),
      })
      .nullable(),
    traits: z.array(z.string()).openapi({ example: ['dog_owner'] }),
    cells: z.array(MemberCell),
    dueProducts: z
      .array(DueProduct)
      .openapi({
        description: 'Top products the member is due to buy (next-basket ranking), best first',
      }),
  })
  .openapi('MemberProfile');
export type MemberProfile = z.infer<typeof MemberProfile>;

const CellCount = z.object({ members: z.number().int(), spendCents: z.number().int() });

export const CategoryCells = z
  .object({
    categoryId: z.string(),
    categoryName: z.string(),
    asOf: AsOf,
    cells: z
      .array(
        CellCount.extend({
          loyalty: z.enum(['national', 'switcher', 'store']),
          volume: z.enum(['low', 'medium', 'high']),
        }),
      )
      .openapi({ description: 'All nine cells, zero-filled' }),
    unclassified: CellCount.openapi({ description: 'Buyers with too few purchase days to place' }),
    total: CellCount,
  })
  .openapi('CategoryCells');
export type CategoryCells = z.infer<typeof CategoryCells>;

export const AssociationsQuery = z.object({
  minLift: z.coerce.number().min(0).optional().openapi({ example: 1.2 }),
  minSupport: z.coerce.number().min(0).max(1).optional().openapi({ example: 0.01 }),
  categoryId: Code.optional().openapi({
    description: 'Only rules from this category',
    example: 'pasta',
  }),
  limit: z.coerce.number().int().min(1).max(500).default(20),
});

export const Association = z
  .object({
    antecedentId: z.string(),
    antecedentName: z.string().nullable(),
    consequentId: z.string(),
    consequentName: z.string().nullable(),
    baskets: z.number().int().openapi({ description: 'Baskets holding both categories' }),
    support: z.number(),
    confidence: z.number().openapi({ description: 'P(consequent | antecedent)' }),
    lift: z.number().openapi({ description: 'Confidence over the consequent’s own basket share' }),
  })
  .openapi('Association');

export const Associations = z
  .object({ asOf: AsOf, associations: z.array(Association) })
  .openapi('Associations');
export type Associations = z.infer<typeof Associations>;
