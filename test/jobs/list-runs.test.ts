import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createApiKey } from '../../src/auth/index.ts';
import { runAnalyse } from '../../src/jobs/analyse.ts';
import { beginRun, endRun } from '../../src/jobs/job-runs.ts';
import { runListsJob } from '../../src/jobs/lists.ts';
import { listsRunnerFor, startListsRun } from '../../src/jobs/runners.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { appCaller } from '../support/app-call.ts';

// The list period job as a tracked run, like the nightly analyse (test/jobs/runs.test.ts): every
// start through the API, the schedule or the CLI gets a row in job_runs, kind `lists`.

const getDeps = useTestDeps();
// The test clock's today is 2026-11-24: the period holding it starts 2026-11-23 (every other Monday).
const CURRENT = '2026-11-23';
let keys: { admin: string; marketer: string; pos: string };

const { call, until } = appCaller(getDeps, () => keys.admin);

/** A list run started on this process's runner whose work waits until `release()`. */
function heldStart(trigger: 'schedule' | 'cli') {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const deps = getDeps();
  const running = listsRunnerFor(deps).start(
    { at: deps.clock.now(), timeZone: 'America/New_York', rules: deps.rules.current(), periodStart: CURRENT },
    trigger,
    async (...args) => {
      await held;
      return runListsJob(...args);
    },
  )!;
  return { running, release };
}

beforeAll(async () => {
  const deps = getDeps();
  await loadSimChain(deps, generateChain({ seed: 5, members: 120, stores: 2, weeks: 26, endDate: '2026-10-30' }));
  await runAnalyse(deps, { asOf: new Date('2026-10-31T04:00:00Z'), timeZone: 'America/New_York', rules: deps.rules.current() });
  keys = {
    admin: (await createApiKey(deps, { name: 'a', role: 'admin' })).key,
    marketer: (await createApiKey(deps, { name: 'm', role: 'marketer' })).key,
    pos: (await createApiKey(deps, { name: 'p', role: 'pos', storeId: 1 })).key,
  };
}, 180_000);

describe(`list runs on ${dbKind}`, () => {
  it('POST /v1/jobs/lists still answers 200 with the summary by default, and the run is recorded', async () => {
    const done = await call('POST', '/v1/jobs/lists', keys.admin, {});
    expect(done.status).toBe(200);
    const { runId, ...summary } = done.body;
    expect(summary).toMatchObject({ periodStart: CURRENT, periodEnd: '2026-12-06', built: true });
    expect(summary.lists).toBeGreaterThan(0);
    expect(runId).toBeGreaterThan(0);

    const one = await call('GET', `/v1/jobs/lists/runs/${runId}`, keys.admin);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      runId,
      kind: 'lists',
      asOf: '2026-11-24T15:00:00.000Z',
      trigger: 'api',
      status: 'done',
      request: { periodStart: null, regenerate: false },
      error: null,
    });
    expect(one.body.result).toEqual(summary);
    expect(Date.parse(one.body.finishedAt)).toBeGreaterThanOrEqual(Date.parse(one.body.startedAt));
    // Runs of one kind are not listed with the other's.
    expect((await call('GET', '/v1/jobs/analyse/runs', keys.admin)).body.runs).toEqual([]);
    expect((await call('GET', `/v1/jobs/analyse/runs/${runId}`, keys.admin)).status).toBe(404);
  }, 120_000);

  it('wait: false answers 202 at once with the running run and its Location, which ends done', async () => {
    const started = await call('POST', '/v1/jobs/lists', keys.admin, { wait: false, periodStart: CURRENT });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      kind: 'lists',
      status: 'running',
      trigger: 'api',
      finishedAt: null,
      result: null,
      request: { periodStart: CURRENT, regenerate: false },
    });
    expect(started.location).toBe(`/v1/jobs/lists/runs/${started.body.runId}`);
    const done = await until(started.location!, 'done');
    // Built already by the first test: the run is done, and added nothing.
    expect(done.body.result).toMatchObject({ periodStart: CURRENT, built: false });
    expect(done.body.startedAt).toBe(started.body.startedAt);
  }, 120_000);

  it('runs one list job at a time per process: another start is refused with 409 while one runs', async () => {
    const { running, release } = heldStart('schedule');
    const { id } = await running.started;
    try {
      for (const body of [{}, { wait: false }, { periodStart: CURRENT }]) {
        const refused = await call('POST', '/v1/jobs/lists', keys.admin, body);
        expect(refused.status, JSON.stringify(body)).toBe(409);
      }
      expect(startListsRun(getDeps(), 'cli')).toBeNull();
      const list = await call('GET', '/v1/jobs/lists/runs?limit=2', keys.admin);
      expect(list.body.runs.map((r: any) => [r.runId, r.status, r.trigger])).toEqual([
        [id, 'running', 'schedule'],
        [id - 1, 'done', 'api'],
      ]);
      expect((await call('GET', `/v1/jobs/lists/runs/${id}`, keys.admin)).body.status).toBe('running');
    } finally {
      release();
    }
    await running.done;
    expect((await call('GET', `/v1/jobs/lists/runs/${id}`, keys.admin)).body).toMatchObject({ status: 'done', trigger: 'schedule' });
    // pages
    const first = await call('GET', '/v1/jobs/lists/runs?limit=1', keys.admin);
    expect(first.body.runs.map((r: any) => r.runId)).toEqual([id]);
    const next = await call('GET', `/v1/jobs/lists/runs?limit=1&before=${id}`, keys.admin);
    expect(next.body.runs.map((r: any) => r.runId)).toEqual([id - 1]);
  }, 120_000);

  it('records what the schedule and the CLI start, and a failed run with its error', async () => {
    const cli = startListsRun(getDeps(), 'cli')!;
    expect((await cli.done).built).toBe(false);
    const recorded = await call('GET', `/v1/jobs/lists/runs/${(await cli.started).id}`, keys.admin);
    expect(recorded.body).toMatchObject({ trigger: 'cli', status: 'done', result: { periodStart: CURRENT, built: false } });

    // A period overlapping the one built: the API refuses it before starting a run (wait or not)...
    for (const wait of [true, false]) {
      const refused = await call('POST', '/v1/jobs/lists', keys.admin, { periodStart: '2026-11-30', wait });
      expect(refused.status).toBe(409);
      expect(refused.body.detail).toMatch(/overlaps the period 2026-11-23 – 2026-12-06/);
    }
    // ...the schedule's run fails, recorded with why.
    const scheduled = startListsRun(getDeps(), 'schedule', { periodStart: '2026-11-30' })!;
    await expect(scheduled.done).rejects.toThrow(/overlaps/);
    const failed = await call('GET', `/v1/jobs/lists/runs/${(await scheduled.started).id}`, keys.admin);
    expect(failed.body.error).toMatch(/overlaps the period 2026-11-23 – 2026-12-06/);
    expect(failed.body).toMatchObject({ status: 'failed', result: null, request: { periodStart: '2026-11-30', regenerate: false } });
    const runs = (await call('GET', '/v1/jobs/lists/runs?limit=2', keys.admin)).body.runs;
    expect(runs.map((r: any) => [r.trigger, r.status])).toEqual([
      ['schedule', 'failed'],
      ['cli', 'done'],
    ]);
  }, 120_000);

  it('writes done in the build\'s own transaction: a run whose record fails keeps none of its lists', async () => {
    const deps = getDeps();
    const lists = async () =>
      (await sql<{ t: string }>`select md5(string_agg(id::text || ':' || coalesce(voided_at::text, ''), ',' order by id)) as t from lists`.execute(deps.db)).rows[0]!.t;
    const before = await lists();
    await sql`alter table job_runs add constraint no_more_runs check (status <> 'done') not valid`.execute(deps.db);
    try {
      const run = startListsRun(deps, 'cli', { regenerate: true })!;
      await expect(run.done).rejects.toThrow(/no_more_runs/);
      const failed = await call('GET', `/v1/jobs/lists/runs/${(await run.started).id}`, keys.admin);
      expect(failed.body).toMatchObject({ status: 'failed', trigger: 'cli', request: { periodStart: null, regenerate: true } });
      expect(failed.body.error).toMatch(/no_more_runs/);
    } finally {
      await sql`alter table job_runs drop constraint no_more_runs`.execute(deps.db);
    }
    // The regenerate voided nothing and built nothing: it rolled back with its record.
    expect(await lists()).toBe(before);
  }, 120_000);

  it('lists a run another process is running from its row, and calls it abandoned once it falls silent', async () => {
    const deps = getDeps();
    const other = await beginRun(deps.db, {
      kind: 'lists',
      asOf: deps.clock.now(),
      trigger: 'schedule',
      params: { periodStart: null, regenerate: false },
    });
    expect((await call('GET', `/v1/jobs/lists/runs/${other.id}`, keys.admin)).body).toMatchObject({ status: 'running', trigger: 'schedule' });
    await sql`update job_runs set heartbeat_at = heartbeat_at - interval '61 seconds' where id = ${other.id}`.execute(deps.db);
    const gone = await call('GET', `/v1/jobs/lists/runs/${other.id}`, keys.admin);
    expect(gone.body).toMatchObject({ status: 'abandoned', finishedAt: null, result: null });
    expect(gone.body.error).toMatch(/no sign of life for 6\d s.*no offers or lists/);
    await endRun(deps.db, other.id, { error: 'test: ended' });
    expect((await call('GET', `/v1/jobs/lists/runs/${other.id}`, keys.admin)).body).toMatchObject({ status: 'failed', error: 'test: ended' });
  });

  it('answers 404 for a run it does not know, 422 for a bad id, page or wait; runs to admins and marketers, starts to admins', async () => {
    expect((await call('GET', '/v1/jobs/lists/runs/999999', keys.admin)).status).toBe(404);
    for (const path of ['/v1/jobs/lists/runs/abc', '/v1/jobs/lists/runs/0', '/v1/jobs/lists/runs?limit=0', '/v1/jobs/lists/runs?before=-1']) {
      const res = await call('GET', path, keys.admin);
      expect(res.status, path).toBe(422);
      expect(res.body.issues.length, path).toBeGreaterThan(0);
    }
    for (const path of ['/v1/jobs/lists/runs', '/v1/jobs/lists/runs/1']) {
      expect((await call('GET', path, keys.marketer)).status, path).not.toBe(403);
      expect((await call('GET', path, keys.pos)).status, path).toBe(403);
      expect((await call('GET', path, null)).status, path).toBe(401);
    }
    expect((await call('POST', '/v1/jobs/lists', keys.marketer, {})).status).toBe(403);
    const bad = await call('POST', '/v1/jobs/lists', keys.admin, { wait: 'no' });
    expect(bad.status).toBe(422);
    expect(bad.body.issues.map((i: any) => i.path)).toEqual(['wait']);
  });

  it('refuses wait: false where work cannot outlive its request (Workers), starting nothing', async () => {
    const before = (await call('GET', '/v1/jobs/lists/runs?limit=1', keys.admin)).body.runs[0].runId;
    const edge = await createApp({ ...getDeps(), requestBound: true }).request('/v1/jobs/lists', {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ wait: false }),
    });
    expect(edge.status).toBe(422);
    expect(((await edge.json()) as any).issues[0].path).toBe('wait');
    expect(listsRunnerFor(getDeps()).busy).toBe(false);
    expect((await call('GET', '/v1/jobs/lists/runs?limit=1', keys.admin)).body.runs[0].runId).toBe(before);
  });
});
