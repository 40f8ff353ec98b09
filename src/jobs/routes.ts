import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Deps } from '../deps.ts';
import { allowRoles } from '../http/auth.ts';
import type { AppEnv } from '../http/env.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { InstantWithOffset, orNull } from '../lib/validators.ts';
import { analyseResult, type AnalyseResult as AnalyseResultT } from './analyse.ts';
import { runningRun, storedRun, storedRuns, type JobRun } from './job-runs.ts';
import { listsRunRequest, refuseListsRun } from './lists.ts';
import { analyseRunnerFor, listsRunnerFor, listsRunOptions } from './runners.ts';
import { LocalDate } from '../lib/validators.ts';
import type { ListPeriodSummary } from '../lists/period.ts';

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
    result: orNull(AnalyseResult).openapi({ description: 'When done' }),
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

const ListsJobRequest = z
  .object({
    periodStart: LocalDate.optional().openapi({
      description:
        'Default: the period holding today on the grid of lists.period_days and lists.weekday; after ' +
        'a change of those, the period following the last one built (up to the end of the new grid\'s ' +
        'period). A periodStart given here is never moved: one overlapping a built period is refused (409)',
    }),
    regenerate: z.boolean().default(false),
    wait: z.boolean().default(true).openapi({
      description:
        'true: answer when the run is done (200, its summary). false: answer at once (202, the run; ' +
        'follow its Location, GET /v1/jobs/lists/runs/{runId}, until it is done or failed)',
    }),
  })
  .strict()
  .openapi('ListsJobRequest');

const ListsJobResult = z
  .object({
    periodStart: z.string(),
    periodEnd: z.string(),
    built: z.boolean().openapi({ description: 'false: the period was built already, nothing was added' }),
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
  .openapi('ListsJobResult');

const ListsRun = z
  .object({
    runId: z.number().int(),
    kind: z.literal('lists'),
    asOf: z.string().openapi({ description: 'When it was started: its "today" is this instant\'s date in CHAIN_TIME_ZONE' }),
    trigger: z.enum(['schedule', 'start', 'api', 'cli']).openapi({
      description: 'What started it: the daily schedule, the first start of the service, the API or the CLI',
    }),
    status: z.enum(['running', 'done', 'failed', 'abandoned']).openapi({
      description:
        'abandoned: it was running, but the process running it has given no sign of life for a ' +
        'minute (it stopped, and kept none of its offers or lists: a build is all or nothing)',
    }),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    request: z
      .object({ periodStart: z.string().nullable(), regenerate: z.boolean() })
      .openapi({ description: 'What it was asked to build (periodStart null: the current period)' }),
    result: orNull(ListsJobResult).openapi({ description: 'When done' }),
    error: z.string().nullable().openapi({ description: 'Why it failed' }),
  })
  .openapi('ListsRun');

type Kind = JobRun['kind'];

/** Where a run is read (GET …/runs/{runId}): the Location of a 202. */
const runPath = (kind: Kind, runId: number | string) => `/v1/jobs/${kind}/runs/${runId}`;

/** The Location header of a 202: the run to poll. */
const runLocation = (kind: Kind) => ({
  Location: {
    description: `The run to poll: ${runPath(kind, '{runId}')}`,
    required: true,
    schema: { type: 'string' as const, example: runPath(kind, 42) },
  },
});

/** wait: false leaves the run going after the answer, which a request-bound runtime (Workers) cannot. */
function refuseBackgroundRun(deps: Deps, wait: boolean | undefined, cronDoes: string) {
  if (wait === false && deps.requestBound) {
    throw new ValidationError('no background runs here', [
      { path: 'wait', message: `false needs a long-lived process; on Workers the Cron Trigger ${cronDoes}` },
    ]);
  }
}

/** Admin-triggered jobs (the same ones the nightly schedule runs). */
export function jobRoutes(deps: Deps) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/analyse',
      operationId: 'runAnalyse',
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
        202: { description: 'Started (or joined)', headers: runLocation('analyse'), content: { 'application/json': { schema: AnalyseRun } } },
        ...problemResponses(409, 413, 415, 422),
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
      refuseBackgroundRun(deps, body.wait, 'runs the analytics');
      const running = analyseRunnerFor(deps).start(
        { asOf, timeZone: deps.config.CHAIN_TIME_ZONE, rules: deps.rules.current() },
        'api',
      );
      if (!running) throw new ConflictError('an analyse run is already in progress; retry when it ends');
      const started = await running.started;
      if (body.wait === false) {
        running.done.catch(() => {}); // recorded as failed; the caller polls the run
        c.header('location', runPath('analyse', started.id));
        return c.json(analyseView(runningRun('analyse', running, started)), 202);
      }
      return c.json({ runId: started.id, ...analyseResult(await running.done) }, 200);
    },
  );
  runRoutes(app, deps, 'analyse', {
    name: 'Analyse',
    noun: 'analyse run',
    schema: AnalyseRun,
    view: analyseView,
    description:
      'Runs going on in any process sharing the database, and the finished ones: when each ' +
      'started and ended, what started it, its result or why it failed. A run whose process died ' +
      'is abandoned.',
  });
  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/lists',
      operationId: 'runListsJob',
      tags: ['jobs'],
      summary: 'Build a list period now: offers and lists for every qualified member',
      description:
        'Uses the last nightly analytics and the live campaigns. Re-running a period adds nothing ' +
        '(built: false); regenerate voids the period\'s unredeemed offers and its lists and builds again. ' +
        'Waits for the result (200), or with wait: false answers at once (202, the run, Location to ' +
        'poll). 409 while another list run goes on in this process, or for a period overlapping one built.',
      ...allowRoles([]),
      request: {
        body: { required: false, content: { 'application/json': { schema: ListsJobRequest } } },
      },
      responses: {
        200: {
          description: 'Done',
          content: { 'application/json': { schema: ListsJobResult.extend({ runId: z.number().int() }) } },
        },
        202: { description: 'Started', headers: runLocation('lists'), content: { 'application/json': { schema: ListsRun } } },
        ...problemResponses(409, 413, 415, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? { regenerate: false, wait: true };
      refuseBackgroundRun(deps, body.wait, 'builds the lists');
      const request = {
        ...(body.periodStart ? { periodStart: body.periodStart } : {}),
        regenerate: body.regenerate ?? false,
      };
      const busy = () => new ConflictError('a list run is already in progress; retry when it ends');
      const runner = listsRunnerFor(deps);
      if (runner.busy) throw busy();
      const opts = listsRunOptions(deps, request);
      await refuseListsRun(deps.db, opts);
      const running = runner.start(opts, 'api');
      if (!running) throw busy();
      const started = await running.started;
      if (body.wait === false) {
        running.done.catch(() => {}); // recorded as failed; the caller polls the run
        c.header('location', runPath('lists', started.id));
        return c.json(listsView(runningRun('lists', running, started, listsRunRequest(request))), 202);
      }
      return c.json({ runId: started.id, ...(await running.done) }, 200);
    },
  );
  runRoutes(app, deps, 'lists', {
    name: 'Lists',
    noun: 'list period run',
    schema: ListsRun,
    view: listsView,
    description:
      'Runs going on in any process sharing the database, and the finished ones: what started ' +
      'each (the daily schedule, the API, the CLI), what it was asked to build, when it started ' +
      'and ended, its summary or why it failed. A run whose process died is abandoned. Marketers ' +
      'read them too (when were this period\'s lists built, with how many offers), as analyse runs.',
  });
  return app;
}

/**
 * GET /jobs/{kind}/runs (newest first, paged by runId) and GET /jobs/{kind}/runs/{runId}: the
 * runs of one job, shown by `view` and documented by `schema`. Marketers read them too.
 */
function runRoutes<S extends z.ZodType>(
  app: OpenAPIHono<AppEnv>,
  deps: Deps,
  kind: Kind,
  run: {
    /** In the operationIds (list{name}Runs, get{name}Run) and the list's schema ({name}Runs). */
    name: string;
    /** In the summaries and the 404. */
    noun: string;
    schema: S;
    view: (run: JobRun) => z.infer<S>;
    /** Of the list. */
    description: string;
  },
) {
  const { name, noun, schema, view } = run;
  app.openapi(
    createRoute({
      method: 'get',
      path: `/jobs/${kind}/runs`,
      operationId: `list${name}Runs`,
      tags: ['jobs'],
      summary: `${noun[0]!.toUpperCase()}${noun.slice(1)}s, newest first`,
      description: run.description,
      ...allowRoles(['marketer']),
      request: { query: RunsQuery },
      responses: {
        200: {
          description: 'Runs',
          content: { 'application/json': { schema: z.object({ runs: z.array(schema) }).openapi(`${name}Runs`) } },
        },
        ...problemResponses(422),
      },
    }),
    async (c) => {
      const { limit, before } = c.req.valid('query');
      const runs = await runsOf(deps, kind, { limit, ...(before !== undefined ? { before } : {}) });
      return c.json({ runs: runs.map(view) }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: `/jobs/${kind}/runs/{runId}`,
      operationId: `get${name}Run`,
      tags: ['jobs'],
      summary: `One ${noun}`,
      ...allowRoles(['marketer']),
      request: { params: RunIdParam },
      responses: {
        200: { description: 'The run', content: { 'application/json': { schema } } },
        ...problemResponses(404, 422),
      },
    }),
    async (c) => {
      const { runId } = c.req.valid('param');
      const found = await runOf(deps, kind, runId);
      if (!found) throw new NotFoundError(`no ${noun} ${runId}`);
      return c.json(view(found), 200);
    },
  );
}

/** The run of `kind` going on in this process, once it has its id. */
async function currentRun(deps: Deps, kind: Kind): Promise<JobRun | null> {
  if (kind === 'analyse') {
    const running = analyseRunnerFor(deps).current;
    return running ? runningRun(kind, running, await running.started) : null;
  }
  const running = listsRunnerFor(deps).current;
  return running ? runningRun(kind, running, await running.started, listsRunRequest(running.opts)) : null;
}

/** Stored runs, with this process's own run as it knows it (its row's heartbeat may wait for its transaction). */
async function runsOf(deps: Deps, kind: Kind, page: { limit: number; before?: number }): Promise<JobRun[]> {
  const current = await currentRun(deps, kind);
  const runs = await storedRuns(deps.db, kind, page);
  return runs.map((r) => (r.runId === current?.runId ? current : r));
}

async function runOf(deps: Deps, kind: Kind, runId: number): Promise<JobRun | null> {
  const current = await currentRun(deps, kind);
  return current?.runId === runId ? current : storedRun(deps.db, kind, runId);
}

function analyseView({ params: _params, ...run }: JobRun) {
  return { ...run, kind: 'analyse' as const, result: run.result as AnalyseResultT | null };
}

function listsView({ params, ...run }: JobRun) {
  const request = (params ?? {}) as { periodStart?: string | null; regenerate?: boolean };
  return {
    ...run,
    kind: 'lists' as const,
    request: { periodStart: request.periodStart ?? null, regenerate: request.regenerate === true },
    result: run.result as ListPeriodSummary | null,
  };
}
