import { createRoute } from '@hono/zod-openapi';
import type { Deps } from '../deps.ts';
import { allowRoles, assertStoreScope } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { zodIssues } from '../http/problem.ts';
import { newRouter } from '../http/router.ts';
import { BadRequestError, ConflictError, ValidationError } from '../lib/errors.ts';
import { ingestBaskets, type BasketInput } from './ingest-baskets.ts';
import { ReferenceCache } from './write-baskets.ts';
import { Basket, BasketBatch, BasketOutcome, BatchResult, parseBasket } from './schemas.ts';

type Parsed = { ok: true; basket: Basket } | { ok: false; issues: { path: string; message: string }[] };

function toInput(b: Basket): BasketInput {
  return {
    storeId: b.storeId,
    terminalId: b.terminalId,
    txnId: b.txnId,
    ts: b.ts,
    member: b.cardNumber ? { kind: 'card', ref: b.cardNumber } : null,
    lines: b.lines, // the parsed lines have exactly BasketInput's fields: no copy per line
  };
}

export function ingestRoutes(deps: Deps) {
  const app = newRouter();
  app.openAPIRegistry.register('Basket', Basket);
  // The request body refers to both by $ref (the handler validates them itself): register both.
  app.openAPIRegistry.register('BasketBatch', BasketBatch);
  // Terminals and described GTINs once seen, for the life of this app (only what never changes).
  const references = ReferenceCache.lasting();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/baskets',
      operationId: 'postBaskets',
      tags: ['ingest'],
      summary: 'Post one completed basket, or a batch of up to 500',
      description:
        'Idempotent per (storeId, terminalId, txnId): a retry with the same content returns the ' +
        'original basketId and stores nothing new; the same key with other content is a conflict. ' +
        'A single basket answers 201 (created), 200 (duplicate), 409 or 422. A batch answers 200 ' +
        'with one outcome per basket: each basket lands whole or not at all, independently of the ' +
        'others. pos keys may post baskets of their own store only.',
      ...allowRoles(['pos']),
      request: {
        body: {
          required: true,
          content: {
            // Validated per basket in the handler, so one bad basket does not sink a batch.
            'application/json': {
              schema: { oneOf: [{ $ref: '#/components/schemas/Basket' }, { $ref: '#/components/schemas/BasketBatch' }] },
            },
          },
        },
      },
      responses: {
        200: {
          description: 'Duplicate of a stored basket, or the outcomes of a batch',
          content: { 'application/json': { schema: BasketOutcome.or(BatchResult) } },
        },
        201: { description: 'Created', content: { 'application/json': { schema: BasketOutcome } } },
        ...problemResponses(409, 413, 422),
      },
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new BadRequestError('malformed JSON in request body');
      }
      const principal = c.get('principal');
      const isBatch = typeof body === 'object' && body !== null && 'baskets' in body;

      if (!isBatch) {
        const parsed = parseBasket(body);
        if (!parsed.success) {
          throw new ValidationError('the basket does not match the schema', zodIssues(parsed.error));
        }
        assertStoreScope(principal, parsed.data.storeId, 'storeId');
        const [outcome] = await ingestBaskets(deps, [toInput(parsed.data)], 'pos', references);
        const result = { index: 0, ...keyOf(parsed.data), ...outcome! };
        if (outcome!.status === 'conflict') throw new ConflictError(`basket ${parsed.data.txnId} conflicts with a stored basket`, outcome!.issues);
        if (outcome!.status === 'rejected') throw new ValidationError('the basket was rejected', outcome!.issues);
        return c.json(result, outcome!.status === 'created' ? 201 : 200);
      }

      const batch = BasketBatch.safeParse(body);
      if (!batch.success) {
        throw new ValidationError('the batch does not match the schema', zodIssues(batch.error));
      }
      const parsed: Parsed[] = batch.data.baskets.map((item, i) => {
        const r = parseBasket(item);
        return r.success ? { ok: true, basket: r.data } : { ok: false, issues: zodIssues(r.error, ['baskets', i]) };
      });
      parsed.forEach((p, i) => {
        if (p.ok) assertStoreScope(principal, p.basket.storeId, `baskets[${i}].storeId`);
      });
      const valid = parsed.flatMap((p) => (p.ok ? [p.basket] : []));
      const written = await ingestBaskets(deps, valid.map(toInput), 'pos', references);
      let next = 0;
      const results = parsed.map((p, index): BasketOutcome => {
        if (!p.ok) {
          const item = batch.data.baskets[index] as Record<string, unknown> | null;
          return {
            index,
            status: 'rejected',
            basketId: null,
            storeId: Number.isSafeInteger(item?.storeId) ? (item!.storeId as number) : null, // as sent, if it is a store id at all
            terminalId: typeof item?.terminalId === 'string' ? item.terminalId : null,
            txnId: typeof item?.txnId === 'string' ? item.txnId : null,
            unknownGtins: [],
            issues: p.issues,
          };
        }
        const outcome = written[next++]!;
        return {
          index,
          ...keyOf(p.basket),
          ...outcome,
          issues: outcome.issues.map((i) => ({ ...i, path: `baskets[${index}].${i.path}` })),
        };
      });
      const count = (s: BasketOutcome['status']) => results.filter((r) => r.status === s).length;
      return c.json(
        {
          created: count('created'),
          duplicates: count('duplicate'),
          conflicts: count('conflict'),
          rejected: count('rejected'),
          results,
        },
        200,
      );
    },
  );
  return app;
}

function keyOf(b: Basket) {
  return { storeId: b.storeId, terminalId: b.terminalId, txnId: b.txnId };
}
