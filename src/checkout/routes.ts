import { createRoute } from '@hono/zod-openapi';
import { compress } from 'hono/compress';
import { etag, RETAINED_304_HEADERS } from 'hono/etag';
import type { Deps } from '../deps.ts';
import { allowRoles, assertStoreScope } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import { NotFoundError, ValidationError } from '../lib/errors.ts';
import { parseListBarcode, parseOfferBarcode } from '../lists/barcodes.ts';
import { localDate } from '../lib/time.ts';
import { acknowledgeConflicts, identify, offerFile, reconciliation } from './offer-file.ts';
import {
  AcknowledgeRequest,
  AcknowledgeResult,
  CommitRequest,
  CommitResult,
  IdentifyRequest,
  IdentifyResult,
  OfferFile,
  QuoteRequest,
  QuoteResult,
  Reconciliation,
  ReconciliationQuery,
  ReturnRequest,
  ReturnResult,
  SinceQuery,
  StoreIdParam,
  VoidRequest,
} from './schemas.ts';
import { commit, quote, returnItems, storeTimeZone, type Identity } from './service.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

type IdentityBody = { scan?: string | undefined; cardNumber?: string | undefined; memberNumber?: string | undefined; listId?: number | undefined; offerId?: number | undefined };

const CURSOR_HEADER = 'cadence-cursor';
const cursorHeader = {
  'Cadence-Cursor': {
    description: 'Pass it back as cursor for the offers changed after this file',
    required: true,
    schema: { type: 'string' as const, example: '48213' },
  },
};

/**
 * A scan, as the lane's scanner reads it: a list barcode (`L` + serial + MOD 37-36 check), a GS1
 * offer barcode (AI 255 or 8112, check digits verified; the serial names the offer), or else a
 * card number. A list or offer barcode that fails its check is refused, never read as a card.
 */
export function identityFromScan(scan: string): Identity {
  const text = scan.trim();
  if (/^(\]C0)?L/.test(text)) {
    const list = parseListBarcode(text);
    if (!list.ok) throw new ValidationError('not a valid list barcode', [{ path: 'identity.scan', message: list.reason }]);
    // The format allows 20 characters 0-9 A-Z; the serials Cadence issues are numbers within
    // listId's range. Others (ABCDEF, 20 nines) reached the database as NaN or past bigint: a 500.
    const listId = Number(list.serial);
    if (!/^\d+$/.test(list.serial) || !Number.isSafeInteger(listId)) {
      throw new ValidationError('not a list of this chain', [
        { path: 'identity.scan', message: `list serial ${list.serial} is not one Cadence issues (digits, at most ${Number.MAX_SAFE_INTEGER})` },
      ]);
    }
    return { listId };
  }
  // GS1: a bare element string of AI 255 / 8112 that checks out (else it may be a long card), or
  // one with a symbology identifier, in (AI) form or after FNC1, which must check out.
  if (/^(255|8112)\d{16,}$/.test(text)) {
    const offer = parseOfferBarcode(text);
    if (offer.ok) return { offerId: Number(offer.serial) };
  } else if (/^(\][A-Za-z][0-9A-Za-z]|\(|\u001d)/.test(text)) {
    const offer = parseOfferBarcode(text);
    if (!offer.ok) throw new ValidationError('not a valid offer barcode', [{ path: 'identity.scan', message: offer.reason }]);
    return { offerId: Number(offer.serial) };
  }
  if (/^[0-9A-Za-z]{4,40}$/.test(text)) return { cardNumber: text };
  throw new ValidationError('unreadable scan', [{ path: 'identity.scan', message: 'not a list, offer or card barcode' }]);
}

function toIdentity(i: IdentityBody | null | undefined): Identity | null {
  if (!i) return null;
  if (i.scan !== undefined) return identityFromScan(i.scan);
  if (i.cardNumber !== undefined) return { cardNumber: i.cardNumber };
  if (i.memberNumber !== undefined) return { memberNumber: i.memberNumber };
  if (i.listId !== undefined) return { listId: i.listId };
  return { offerId: i.offerId! };
}

/** The zone of a store named in the path or by a pos lookup (404 when unknown). */
async function zoneOf(deps: Deps, storeId: number): Promise<string> {
  const zone = await storeTimeZone(deps.db, storeId);
  if (!zone) throw new NotFoundError(`no store ${storeId}`, [{ path: 'storeId', message: 'unknown store' }]);
  return zone;
}

/** Checkout for POS terminals: a pos key acts for its own store only. */
export function checkoutRoutes(deps: Deps) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'post', path: '/checkout/identify', operationId: 'identifyMember', tags: ['checkout'], ...allowRoles(['pos']),
      summary: 'Who is at the till: a scanned list, card or offer → member, current list, live offers',
      request: { body: { required: true, ...json(IdentifyRequest) } },
      responses: { 200: { description: 'The member', ...json(IdentifyResult) }, ...problemResponses(404, 413, 415, 422) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      assertStoreScope(c.get('principal'), body.storeId, 'storeId');
      const zone = await zoneOf(deps, body.storeId);
      return c.json(await identify(deps.db, toIdentity(body.identity)!, deps.clock.now(), zone), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post', path: '/checkout/quote', operationId: 'quoteBasket', tags: ['checkout'], ...allowRoles(['pos']),
      summary: 'What applies to this basket: offers, discount per line, total, and why others do not',
      description:
        `Allocations are whole cents spread over the lines by the largest-remainder method; they sum ` +
        `exactly to each offer's discount. Applicable single-use offers are held for this transaction ` +
        `for a short while (reservedUntil), so another lane quoting the same offer sees it as reserved.`,
      request: { body: { required: true, ...json(QuoteRequest) } },
      responses: { 200: { description: 'The quote', ...json(QuoteResult) }, ...problemResponses(404, 413, 415, 422) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      assertStoreScope(c.get('principal'), body.storeId, 'storeId');
      return c.json(await quote(deps, { ...body, identity: toIdentity(body.identity) }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post', path: '/checkout/commit', operationId: 'commitRedemption', tags: ['checkout'], ...allowRoles(['pos']),
      summary: 'Commit a sale: redeem atomically and ingest the basket, exactly once',
      description:
        'Idempotent per (storeId, terminalId, txnId): a retry with the same body returns the stored ' +
        'result (replayed: true); the same key with another body is a 409. An offer is never redeemed ' +
        'beyond its limit, whatever the concurrency. Offline sales (offline: true, offerIds) keep their ' +
        'time; an offer that could not count is listed in conflicts and in the store reconciliation, ' +
        'with what the lane gave for it (offlineDiscounts) or, when the lane does not say, with what ' +
        'Cadence computes on the basket (0 for an offer that does not apply to it).',
      request: { body: { required: true, ...json(CommitRequest) } },
      responses: {
        201: { description: 'Committed', ...json(CommitResult) },
        200: { description: 'Replayed: committed before', ...json(CommitResult) },
        ...problemResponses(404, 409, 413, 415, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      assertStoreScope(c.get('principal'), body.storeId, 'storeId');
      const r = await commit(deps, { ...body, identity: toIdentity(body.identity) });
      return c.json(r, r.replayed ? 200 : 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post', path: '/checkout/void', operationId: 'voidSale', tags: ['checkout'], ...allowRoles(['pos']),
      summary: 'Void a committed sale: reverse it and restore its offers (while still valid)',
      request: { body: { required: true, ...json(VoidRequest) } },
      responses: { 200: { description: 'Voided', ...json(ReturnResult) }, ...problemResponses(404, 409, 413, 415, 422) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      assertStoreScope(c.get('principal'), body.storeId, 'storeId');
      const r = await returnItems(deps, {
        storeId: body.storeId, terminalId: body.terminalId, txnId: `void:${body.txnId}`, ts: body.ts,
        original: { terminalId: body.terminalId, txnId: body.txnId },
      });
      return c.json(r, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post', path: '/checkout/return', operationId: 'returnItems', tags: ['checkout'], ...allowRoles(['pos']),
      summary: 'Return items of a committed sale: discounts reverse pro rata, offer uses come back',
      description:
        "Each returned unit gives back its share of the line's discount and of every offer on it. An offer's use " +
        'comes back (while the offer is valid) once none of its discount is kept, i.e. every unit it was given on ' +
        'is returned; a partial return leaves the use spent.',
      request: { body: { required: true, ...json(ReturnRequest) } },
      responses: { 200: { description: 'Returned', ...json(ReturnResult) }, ...problemResponses(404, 409, 413, 415, 422) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      assertStoreScope(c.get('principal'), body.storeId, 'storeId');
      return c.json(await returnItems(deps, body), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get', path: '/stores/{id}/offer-file', operationId: 'getOfferFile', tags: ['checkout'],
      // A 304 carries the cursor too: the offers it stands for are those of this read.
      ...allowRoles(['pos'], compress(), etag({ retainedHeaders: [...RETAINED_304_HEADERS, CURSOR_HEADER] })),
      summary: "The store's live offers, for redeeming while offline",
      description:
        'All offers of the members of this store (home store or list store) still usable from today. ' +
        'With cursor (from the last file) or since: every offer of theirs changed after it, voided and ' +
        'used ones included (status). ' +
        'ETag / If-None-Match, gzip when asked for.',
      request: { params: StoreIdParam, query: SinceQuery },
      responses: {
        200: { description: 'The offer file', headers: cursorHeader, ...json(OfferFile) },
        304: { description: 'Not modified', headers: cursorHeader },
        ...problemResponses(404, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { since, cursor } = c.req.valid('query');
      assertStoreScope(c.get('principal'), id, 'id');
      const now = deps.clock.now();
      const day = localDate(now, await zoneOf(deps, id));
      const file = await offerFile(deps.db, id, day, cursor ? { cursor } : since ? { since } : null);
      c.header('cache-control', 'private, no-cache');
      // A header, not a field: the cursor moves with every write anywhere, and in the body it would
      // change the ETag of a file whose offers did not change.
      c.header(CURSOR_HEADER, file.cursor);
      return c.json({ storeId: id, generatedAt: day, since: since ?? null, offers: file.offers }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get', path: '/stores/{id}/reconciliation', operationId: 'getReconciliation', tags: ['checkout'], ...allowRoles(['pos']),
      summary: 'Offline redemptions that could not count (used twice, expired, voided…)',
      description:
        'A page of the store\'s conflicts in time order, open ones (not acknowledged) by default; `open` ' +
        'gives the count and discount of all open ones. Follow `nextCursor` with `after` for the next page.',
      request: { params: StoreIdParam, query: ReconciliationQuery },
      responses: { 200: { description: 'The conflicts', ...json(Reconciliation) }, ...problemResponses(404, 422) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const query = c.req.valid('query');
      assertStoreScope(c.get('principal'), id, 'id');
      await zoneOf(deps, id);
      return c.json({ storeId: id, status: query.status, ...(await reconciliation(deps.db, id, query)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post', path: '/stores/{id}/reconciliation/acknowledge', operationId: 'acknowledgeConflicts', tags: ['checkout'], ...allowRoles(['pos']),
      summary: 'Mark reconciliation conflicts as dealt with',
      description:
        'All or nothing: a conflict this store does not have is a 422 naming it, and nothing is marked. ' +
        'Conflicts acknowledged before keep their first acknowledgement, so a retry changes nothing.',
      request: { params: StoreIdParam, body: { required: true, ...json(AcknowledgeRequest) } },
      responses: { 200: { description: 'Acknowledged', ...json(AcknowledgeResult) }, ...problemResponses(404, 413, 415, 422) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const principal = c.get('principal');
      assertStoreScope(principal, id, 'id');
      await zoneOf(deps, id);
      const { conflicts } = c.req.valid('json');
      return c.json(await acknowledgeConflicts(deps.db, id, principal.keyId, deps.clock.now(), conflicts), 200);
    },
  );
  return app;
}
