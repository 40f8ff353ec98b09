import { createRoute, z } from '@hono/zod-openapi';
import type { Deps } from '../deps.ts';
import { allowRoles } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { InstantWithOffset } from '../lib/validators.ts';
import { analyseResult, type RunningAnalyse } from './analyse.ts';
import { storedRun, storedRuns, type JobRun, type RunStart } from './job-runs.ts';
import { analyseRunnerFor } from './runners.ts';
import { runListsJob } from './lists.ts';
import { LocalDate } from '../lib/validators.ts';

const AnalyseRequest = z
  .object({
    asOf: InstantWithOffset.optional().openapi({
      description: 'Analyse as of this instant (only history before it counts; not after now); default now',
    }),
    wait: z.boolean().default(true).openapi({
      description:
        'true: answer when the run is done (200, its result). false: answer at once (202, the run; ' +
        'follow its Location, GET /v1/jobs/analyse/runs/{runId}, until it is done or failed)',
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

const AnalyseRun = z
  .object({
    runId: z.number().int(),
    kind: z.literal('analyse'),
    asOf: z.string(),
    trigger: z.enum(['schedule', 'start', 'api', 'cli']).openapi({
      description: 'What started it: the nightly schedule, the first start of the service, the API or the CLI',
    }),
    status: z.enum(['running', 'done', 'failed', 'abandoned']).openapi({
      description:
        'abandoned: it was running, but the process running it has given no sign of life for a ' +
        'minute (it stopped, and kept none of its analytics: a run is all or nothing)',
    }),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    result: AnalyseResult.nullable().openapi({ description: 'When done' }),
    error: z.string().nullable().openapi({ description: 'Why it failed' }),
  })
  .openapi('AnalyseRun');

const RunIdParam = z.object({
  runId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ param: { name: 'runId', in: 'path' } }),
});

const RunsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(20),
  before: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().openapi({
    description: 'Only runs with a smaller runId (the next page: the last runId of this one)',
  }),
});

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
        'next-basket scores with the live rules/settings.yaml and rules/traits.yaml. Waits for the ' +
        'result (200), or with wait: false answers at once (202, the run, Location to poll). ' +
        'Idempotent: the same asOf over the same data gives the same rows. 409 while another analyse ' +
        'runs in this process (the same asOf joins it).',
      ...allowRoles([]),
      request: {
        body: { required: false, content: { 'application/json': { schema: AnalyseRequest } } },
      },
      responses: {
        200: {
          description: 'Done',
          content: { 'application/json': { schema: AnalyseResult.extend({ runId: z.number().int() }) } },
        },
        202: { description: 'Started (or joined)', content: { 'application/json': { schema: AnalyseRun } } },
        ...problemResponses(400, 401, 403, 409, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? { wait: true };
      const now = deps.clock.now();
      const asOf = body.asOf ? new Date(body.asOf) : now;
      // History ends now: a later asOf measures nothing, and one centuries ahead overflowed the
      // recency weights in SQL (a 500).
      if (asOf > now) {
        throw new ValidationError('asOf is in the future', [{ path: 'asOf', message: `after now (${now.toISOString()})` }]);
      }
      if (body.wait === false && deps.requestBound) {
        throw new ValidationError('no background runs here', [
          { path: 'wait', message: 'false needs a long-lived process; on Workers the Cron Trigger runs the analytics' },
        ]);
      }
      const running = analyseRunnerFor(deps).start(
        { asOf, timeZone: deps.config.CHAIN_TIME_ZONE, rules: deps.rules.current() },
        'api',
      );
      if (!running) throw new ConflictError('an analyse run is already in progress; retry when it ends');
      const started = await running.started;
      if (body.wait === false) {
        running.done.catch(() => {}); // recorded as failed; the caller polls the run
        c.header('location', `/v1/jobs/analyse/runs/${started.id}`);
        return c.json(runningRun(running, started), 202);
      }
      return c.json({ runId: started.id, ...analyseResult(await running.done) }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/analyse/runs',
      tags: ['jobs'],
      summary: 'Analyse runs, newest first',
      description:
        'Runs going on in any process sharing the database, and the finished ones: when each ' +
        'started and ended, what started it, its result or why it failed. A run whose process died ' +
        'is abandoned.',
      ...allowRoles(['marketer']),
      request: { query: RunsQuery },
      responses: {
        200: {
          description: 'Runs',
          content: { 'application/json': { schema: z.object({ runs: z.array(AnalyseRun) }).openapi('AnalyseRuns') } },
        },
        ...problemResponses(400, 401, 403, 422),
      },
    }),
    async (c) => {
      const { limit, before } = c.req.valid('query');
      const current = await currentRun(deps);
      const runs = await storedRuns(deps.db, { limit, ...(before !== undefined ? { before } : {}) });
      // This process's own run as it knows it (its row's heartbeat may wait for its transaction).
      return c.json({ runs: runs.map((r) => (r.runId === current?.runId ? current : r)) }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/analyse/runs/{runId}',
      tags: ['jobs'],
      summary: 'One analyse run',
      ...allowRoles(['marketer']),
      request: { params: RunIdParam },
      responses: {
        200: { description: 'The run', content: { 'application/json': { schema: AnalyseRun } } },
        ...problemResponses(400, 401, 403, 404, 422),
      },
    }),
    async (c) => {
      const { runId } = c.req.valid('param');
      const current = await currentRun(deps);
      const run = current?.runId === runId ? current : await storedRun(deps.db, runId);
      if (!run) throw new NotFoundError(`no analyse run ${runId}`);
      return c.json(run, 200);
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

/** The run going on in this process, once it has its id. */
async function currentRun(deps: Deps): Promise<JobRun | null> {
  const running = analyseRunnerFor(deps).current;
  return running ? runningRun(running, await running.started) : null;
}

function runningRun(running: RunningAnalyse, started: RunStart): JobRun {
  return {
    runId: started.id,
    kind: 'analyse',
    asOf: running.asOf.toISOString(),
    trigger: running.trigger,
    status: 'running',
    startedAt: started.startedAt.toISOString(),
    finishedAt: null,
    result: null,
    error: null,
  };
}
