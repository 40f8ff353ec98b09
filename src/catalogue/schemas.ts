import { z } from '@hono/zod-openapi';
import { Cents, Code, Gtin, LocalDate, StoreId, TimeZone } from '../lib/validators.ts';

export const Store = z
  .object({
    id: StoreId.openapi({ description: "The chain's own store number", example: 3 }),
    name: z.string().min(1).max(200),
    timeZone: TimeZone,
  })
  .strict()
  .openapi('Store');
export type Store = z.infer<typeof Store>;

export const Category = z
  .object({
    id: Code.openapi({ example: 'analgesics' }),
    name: z.string().min(1).max(200),
    parentId: Code.nullish(),
  })
  .strict()
  .openapi('Category');
export type Category = z.infer<typeof Category>;

export const Manufacturer = z
  .object({ id: Code.openapi({ example: 'acme' }), name: z.string().min(1).max(200) })
  .strict()
  .openapi('Manufacturer');
export type Manufacturer = z.infer<typeof Manufacturer>;

export const Product = z
  .object({
    gtin: Gtin,
    name: z.string().min(1).max(300),
    categoryId: Code.nullish(),
    brand: z.string().min(1).max(200).nullish(),
    brandType: z.enum(['national', 'store']).nullish(),
    manufacturerId: Code.nullish(),
    size: z.string().max(100).nullish(),
    priceCents: Cents.nullish(),
  })
  .strict()
  .openapi('Product');
export type Product = z.infer<typeof Product>;

export const MemberContact = z
  .object({
    firstName: z.string().max(200).nullish(),
    lastName: z.string().max(200).nullish(),
    email: z.string().email().max(320).nullish(),
    phone: z.string().max(40).nullish(),
    postalCode: z.string().max(20).nullish(),
  })
  .strict()
  .openapi('MemberContact');
export type MemberContact = z.infer<typeof MemberContact>;

export const MemberNumber = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, _ or - (max 40)');
export const CardNumber = z.string().regex(/^[0-9A-Za-z]{4,40}$/, '4–40 letters or digits');

export const Member = z
  .object({
    memberNumber: MemberNumber.openapi({ example: 'M0000042' }),
    cardNumber: CardNumber.nullish().openapi({ example: '400000000042' }),
    homeStoreId: StoreId.nullish(),
    householdSize: z.number().int().min(1).max(20).nullish(),
    hasDog: z.boolean().nullish(),
    hasCat: z.boolean().nullish(),
    hasBaby: z.boolean().nullish(),
    enrolledOn: LocalDate.nullish(),
    contact: MemberContact.nullish().openapi({ description: 'Contact details; null or left out: kept as stored' }),
  })
  .strict()
  .openapi('Member');
export type Member = z.infer<typeof Member>;

export const UpsertResult = z
  .object({ upserted: z.number().int() })
  .openapi('UpsertResult');

export const StoresBody = z.object({ stores: z.array(Store).min(1).max(1000) }).strict();
export const CategoriesBody = z
  .object({ categories: z.array(Category).min(1).max(5000) })
  .strict();
export const ManufacturersBody = z
  .object({ manufacturers: z.array(Manufacturer).min(1).max(5000) })
  .strict();
export const ProductsBody = z.object({ products: z.array(Product).min(1).max(5000) }).strict();
export const MembersBody = z.object({ members: z.array(Member).min(1).max(5000) }).strict();
