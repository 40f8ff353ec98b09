import { z } from '@hono/zod-openapi';

const FileIssue = z
  .object({
    file: z.string(),
    line: z.number().int().nullable(),
    column: z.number().int().nullable(),
    path: z.string().openapi({ example: 'offer.ladder.high' }),
    message: z.string().openapi({ example: 'expected a percentage between 0 and 100' }),
  })
  .openapi('RuleFileIssue');

const RuleFile = z.object({ path: z.string(), hash: z.string().openapi({ description: 'SHA-256 of the file' }) });

const LastError = z
  .object({ at: z.string(), message: z.string(), issues: z.array(FileIssue) })
  .nullable()
  .openapi({ description: 'The last refused reload (the previous rules stayed live); null when none' });

export const RulesStatus = z
  .object({
    loadedAt: z.string().nullable().openapi({ description: 'When the live rules were loaded; null: built-in defaults' }),
    checkedAt: z.string().nullable(),
    lastError: LastError,
    files: z.array(RuleFile),
  })
  .openapi('RulesStatus');

export const LiveRulesList = z
  .object({
    loadedAt: z.string().nullable(),
    lastError: LastError,
    date: z.string().openapi({ description: "Today in the chain's time zone", example: '2026-11-24' }),
    campaigns: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        file: z.string(),
        hash: z.string().openapi({ description: "SHA-256 of the campaign's file; issued offers record it" }),
        activeFrom: z.string(),
        activeTo: z.string(),
        live: z.boolean().openapi({ description: 'Active today' }),
        kind: z.string(),
        priority: z.number().int(),
        stackingGroup: z.string().nullable(),
        holdoutPercent: z.number(),
      }),
    ),
    content: z.array(z.object({ id: z.string(), kind: z.string(), title: z.string(), file: z.string() })),
    files: z.array(RuleFile),
  })
  .openapi('LiveRules');

const PreviewRow = z.object({
  cell: z.string().openapi({ example: 'national/high', description: 'loyalty/volume, or - without a cell' }),
  reached: z.number().int(),
  heldOut: z.number().int(),
  eligible: z.number().int(),
  offers: z.number().int(),
  expectedRedemptions: z.number(),
  expectedCostCents: z.number().int(),
  vendorFundedCents: z.number().int(),
});

export const RulesPreview = z
  .object({
    ok: z.literal(true),
    warnings: z.array(z.string()),
    preview: z.object({
      campaignId: z.string(),
      name: z.string(),
      file: z.string(),
      asOf: z.string().nullable(),
      date: z.string().nullable(),
      liveOnDate: z.boolean(),
      periodDays: z.number().int(),
      referencePriceCents: z.number().int().nullable(),
      costPerRedemptionCents: z.object({ low: z.number(), medium: z.number(), high: z.number() }),
      rows: z.array(PreviewRow),
      total: PreviewRow,
      budget: z.object({
        maxOffers: z.number().int().nullable(),
        maxCostCents: z.number().int().nullable(),
        offersUse: z.number().nullable(),
        costUse: z.number().nullable(),
        cutByBudget: z.number().int(),
      }),
      notes: z.array(z.string()),
    }),
  })
  .openapi('RulesPreview');

export const PreviewQuery = z.object({
  file: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_./-]+\.ya?ml$/, 'a file name ending in .yaml')
    .optional()
    .openapi({
      param: { name: 'file', in: 'query' },
      description: 'Name used in error messages (and to replace the live campaign from that file)',
      example: 'rules/campaigns/analgesic-store-brand.yaml',
    }),
});

export const CampaignYaml = z.string().openapi({
  description: 'One campaign file (rules/campaigns/*.yaml)',
  example: 'id: coffee-trial\nname: Try our coffee\nactive: { from: 2026-11-01, to: 2026-12-31 }\n' +
    'promotes: { categories: [coffee], brand_type: store }\noffer: { kind: percent_off, percent: 25 }\n',
});
