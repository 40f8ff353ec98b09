import { z } from '@hono/zod-openapi';
import { StoreId } from '../lib/validators.ts';

export const Role = z.enum(['admin', 'marketer', 'vendor', 'pos']).openapi('Role');

export const CreateApiKey = z
  .object({
    name: z.string().min(1).max(200).openapi({ example: 'Store 3 lane terminals' }),
    role: Role,
    storeId: StoreId.optional().openapi({ description: 'Required for pos keys' }),
    manufacturerId: z
      .string()
      .min(1)
      .optional()
      .openapi({ description: 'Required for vendor keys' }),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.role === 'pos' && v.storeId === undefined)
      ctx.addIssue({ code: 'custom', path: ['storeId'], message: 'a pos key needs a storeId' });
    if (v.role !== 'pos' && v.storeId !== undefined)
      ctx.addIssue({ code: 'custom', path: ['storeId'], message: 'only pos keys have a storeId' });
    if (v.role === 'vendor' && v.manufacturerId === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['manufacturerId'],
        message: 'a vendor key needs a manufacturerId',
      });
    if (v.role !== 'vendor' && v.manufacturerId !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['manufacturerId'],
        message: 'only vendor keys have a manufacturerId',
      });
  })
  .openapi('CreateApiKey');
export type CreateApiKey = z.infer<typeof CreateApiKey>;

export const ApiKeyInfo = z
  .object({
    id: z.number().int(),
    name: z.string(),
    prefix: z.string().openapi({ description: 'First characters of the key, to recognise it' }),
    role: Role,
    storeId: z.number().int().nullable(),
    manufacturerId: z.string().nullable(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKeyInfo');
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;

export const CreatedApiKey = ApiKeyInfo.extend({
  key: z.string().openapi({ description: 'The secret. Shown once; only its hash is stored.' }),
}).openapi('CreatedApiKey');
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;
