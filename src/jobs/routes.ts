import { createRoute, z } from '@hono/zod-openapi';
import type { Deps } from '../deps.ts';
import { allowRoles } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import { ConflictError, ValidationError } from '../lib/errors.ts';
import { InstantWithOffset } from '../lib/validators.ts';
import { analyseRunnerFor } from './runners.ts';
import { runListsJob } from './lists.ts';
import { LocalDate } from '../lib/validators.ts';

const AnalyseRequest = z
  .object({
    asOf: InstantWithOffset.optional().openapi({
      description: 'Analyse as of this instant (only history before it counts; not after now); default now',
    }),
  })
  .strict()
  .openapi('AnalyseRequest');

const AnalyseResult = z
  .object({
    asOf: z.string(),
    members: z.number().int(),
    qualified: z.number().int(),
    keyMembers: z.number().int(),
    churnRisk: z.number().int(),
    classifiedCells: z.number().int(),
    memberProducts: z.number().int(),
    calibratedPairs: z.number().int(),
    scoredMembers: z.number().int(),
    associationPairs: z.number().int(),
    traits: z.record(z.string(), z.number().int()),
    timingsMs: z.record(z.string(), z.number()),
  })
  .openapi('AnalyseResult');

/** Admin-triggered jobs (the same ones the nightly schedule runs). */
export function jobRoutes(deps: Deps) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/analyse',
      tags: ['jobs'],
      summary: 'Run the nightly analytics now',
      description:
        'Recomputes 9-cells, member scores, traits, associations, repurchase cycles, calibration and ' +
        'next-basket scores with the live rules/settings.yaml and rules/traits.yaml, and waits for ' +
        'the result. Idempotent: the same asOf over the same data gives the same rows. 409 while ' +
        'another analyse runs.',
      ...allowRoles([]),
      request: {
        body: { required: false, content: { 'application/json': { schema: AnalyseRequest } } },
      },
      responses: {
        200: { description: 'Done', content: { 'application/json': { schema: AnalyseResult } } },
        ...problemResponses(400, 401, 403, 409, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? {};
      const now = deps.clock.now();
      const asOf = body.asOf ? new Date(body.asOf) : now;
      // History ends now: a later asOf measures nothing, and one centuries ahead overflowed the
      // recency weights in SQL (a 500).
      if (asOf > now) {
        throw new ValidationError('asOf is in the future', [{ path: 'asOf', message: `after now (${now.toISOString()})` }]);
      }
      const running = analyseRunnerFor(deps).run({
        asOf,
        timeZone: deps.config.CHAIN_TIME_ZONE,
        rules: deps.rules.current(),
      });
      if (!running) throw new ConflictError('an analyse run is already in progress; retry when it ends');
      const s = await running;
      return c.json(
        {
          asOf: s.asOf,
          members: s.memberScores.members,
          qualified: s.memberScores.qualified,
          keyMembers: s.memberScores.key,
          churnRisk: s.memberScores.churnRisk,
          classifiedCells: s.cells.classified,
          memberProducts: s.cycles.memberProducts,
          calibratedPairs: s.calibration.pairs,
          scoredMembers: s.scores.members,
          associationPairs: s.associations.pairs,
          traits: s.traits.members,
          timingsMs: s.timingsMs,
        },
        200,
      );
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/lists',
      tags: ['jobs'],
      summary: 'Build a list period now: offers and lists for every qualified member',
      description:
        'Uses the last nightly analytics and the live campaigns. Re-running a period adds nothing ' +
        '(built: false); regenerate voids the period\'s unredeemed offers and its lists and builds again.',
      ...allowRoles([]),
      request: {
        body: {
          required: false,
          content: {
            'application/json': {
              schema: z
                .object({
                  periodStart: LocalDate.optional().openapi({ description: 'Default: the period holding today' }),
                  regenerate: z.boolean().default(false),
                })
                .strict()
                .openapi('ListsJobRequest'),
            },
          },
        },
      },
      responses: {
        200: {
          description: 'Done',
          content: {
            'application/json': {
              schema: z
                .object({
                  periodStart: z.string(),
                  periodEnd: z.string(),
                  built: z.boolean(),
                  lists: z.number().int(),
                  offers: z.number().int(),
                  controls: z.number().int(),
                  voidedOffers: z.number().int(),
                  campaigns: z.array(
                    z.object({
                      campaignId: z.string(),
                      candidates: z.number().int(),
                      offers: z.number().int(),
                      controls: z.number().int(),
                      expectedCostCents: z.number().int(),
                    }),
                  ),
                })
                .openapi('ListsJobResult'),
            },
          },
        },
        ...problemResponses(400, 401, 403, 409, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? { regenerate: false };
      const summary = await runListsJob(deps, {
        ...(body.periodStart ? { periodStart: body.periodStart } : {}),
        regenerate: body.regenerate ?? false,
      });
      return c.json(summary, 200);
    },
  );
  return app;
}
