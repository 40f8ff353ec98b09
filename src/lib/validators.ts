import { z } from '@hono/zod-openapi';
import { isTimeZone } from '../config.ts';
import { parseGtin } from './gtin.ts';
import { parseInstant } from './time.ts';

/** A GTIN-8/12/13/14 with a verified check digit, normalised to 14 digits. */
export const Gtin = z
  .string()
  .transform((raw, ctx) => {
    const result = parseGtin(raw);
    if (!result.ok) {
      ctx.addIssue({ code: 'custom', message: result.message });
      return z.NEVER;
    }
    return result.gtin;
  })
  .openapi({ type: 'string', example: '05012345678900', description: 'GTIN-8/12/13/14' });

export const Code = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'lowercase letters, digits, _ . - (max 64)');

export const TimeZone = z
  .string()
  .refine(isTimeZone, 'not an IANA time zone, e.g. America/New_York')
  .openapi({ example: 'America/New_York' });

export const Cents = z.number().int().min(0).max(100_000_000);

/**
 * Units, or weight for weighed items: what basket_lines.qty (numeric(12, 3)) stores exactly. More
 * decimals were rounded silently on the way in (0.0001 stored as a line of 0 units).
 */
export const Quantity = z
  .number()
  .positive()
  .max(100_000)
  .refine((q) => Math.abs(q * 1000 - Math.round(q * 1000)) < 1e-6, 'at most 3 decimals');

/**
 * A basket line's quantity: a sold quantity, or a returned one (negative) as POS journals and
 * history exports carry them; never 0. Same bounds and decimals as `Quantity`.
 */
export const SignedQuantity = z
  .number()
  .min(-100_000)
  .max(100_000)
  .refine((q) => q !== 0, 'not 0 (a sold quantity, or a negative one for a returned item)')
  .refine((q) => Math.abs(q * 1000 - Math.round(q * 1000)) < 1e-6, 'at most 3 decimals');

/** Cents that may be negative: a returned line's discount given back. */
export const SignedCents = z.number().int().min(-100_000_000).max(100_000_000);

/** The largest value of PostgreSQL's `integer`, the type of store numbers. */
export const MAX_INT4 = 2_147_483_647;
/** A store number: a positive `integer` (larger ones would fail in the database, not here). */
export const StoreId = z.number().int().positive().max(MAX_INT4);

/** A store number in a URL path (`/stores/{id}/…`): the same range as `StoreId`. */
export const StoreIdInPath = z.coerce.number().int().positive().max(MAX_INT4);

/**
 * The instants and dates the API takes: from 1900-01-01 to 9999-01-01 (UTC). PostgreSQL holds no
 * year 0 and JavaScript writes years past 9999 as `+010000-…`, which it cannot read: either was a
 * 500. The margins keep what is derived from an input (a year's look-back from an analysis date, a
 * list period or an offer's validity after a start date) inside that range too.
 */
export const EARLIEST_MS = Date.UTC(1900, 0, 1);
export const LATEST_MS = Date.UTC(9999, 0, 1);
/** True for an epoch time in milliseconds inside the range above. */
export const inRange = (ms: number) => ms >= EARLIEST_MS && ms <= LATEST_MS;
const rangeMessage = 'outside 1900-01-01 … 9999-01-01';

/** An ISO-8601 instant that must carry its UTC offset (or Z): POS clocks lie about zones. */
export const InstantWithOffset = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/,
    // abort: a value not written as asked is not also "not a real date and time"
    { message: 'a timestamp with a UTC offset, e.g. 2026-11-24T10:15:00-05:00', abort: true },
  )
  .superRefine((v, ctx) => {
    const instant = parseInstant(v);
    if (instant === null) ctx.addIssue({ code: 'custom', message: 'not a real date and time' });
    else if (!inRange(instant.seconds * 1000)) ctx.addIssue({ code: 'custom', message: rangeMessage });
  })
  .openapi({ example: '2026-11-24T10:15:00-05:00' });

export const LocalDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'a date YYYY-MM-DD', abort: true })
  .superRefine((v, ctx) => {
    const t = Date.parse(`${v}T00:00:00Z`);
    if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== v) {
      ctx.addIssue({ code: 'custom', message: 'not a real date' });
    } else if (!inRange(t)) ctx.addIssue({ code: 'custom', message: rangeMessage });
  });

/**
 * `schema` or `null`, for a response field whose schema is an OpenAPI component. zod-openapi writes
 * `.nullable()` of a component as `allOf: [{ $ref }, { type: ['object', 'null'] }]`, which refuses
 * null (every branch of an allOf must hold), or as the bare `$ref`; this is `anyOf: [{ $ref },
 * { type: 'null' }]`, which OpenAPI 3.1 reads as meant. Not for request fields: a union's parse
 * error says only "Invalid input" where `.nullish()` names the bad field (give those an
 * `.openapi({ description })`, which makes zod-openapi write the component inline, nullable).
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);
