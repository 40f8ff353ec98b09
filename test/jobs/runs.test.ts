import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createApiKey } from '../../src/auth/index.ts';
import { analyseRunnerFor } from '../../src/jobs/runners.ts';
import { AnalyseRunner, runAnalyse } from '../../src/jobs/analyse.ts';
import { beginRun, endRun } from '../../src/jobs/job-runs.ts';
import { openPostgres } from '../../src/db/node.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { dbKind, databaseUrl, useTestDeps } from '../support/db.ts';
import { appCaller } from '../support/app-call.ts';

const getDeps = useTestDeps();
const AS_OF = '2026-10-31T04:00:00Z';
const OTHER = '2026-10-24T04:00:00Z';
let keys: { admin: string; marketer: string; pos: string };

const { call, until } = appCaller(getDeps, () => keys.admin);

/** Rows of the analytics tables a run replaces, as one text (to see that nothing changed). */
async function analytics() {
  const { rows } = await sql<{ t: string }>`
    select (select md5(string_agg(x::text, '|' order by x::text)) from member_category_cells x)
      || (select md5(string_agg(x::text, '|' order by x::text)) from member_product_scores x) as t`.execute(getDeps().db);
  return rows[0]!.t;
}

/** A run started on `runner` whose work waits until `release()` (it then analyses for real). */
function heldStart(runner: AnalyseRunner, asOf: string, trigger: 'schedule' | 'cli') {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const running = runner.start(
    { asOf: new Date(asOf), timeZone: 'America/New_York', rules: getDeps().rules.current() },
    trigger,
    async (...args) => {
      await held;
      return runAnalyse(...args);
    },
  )!;
  return { running, release };
}

beforeAll(async () => {
  const deps = getDeps();
  await loadSimChain(deps, generateChain({ seed: 5, members: 120, stores: 2, weeks: 26, endDate: '2026-10-30' }));
  keys = {
    admin: (await createApiKey(deps, { name: 'a', role: 'admin' })).key,
    marketer: (await createApiKey(deps, { name: 'm', role: 'marketer' })).key,
    pos: (await createApiKey(deps, { name: 'p', role: 'pos', storeId: 1 })).key,
  };
}, 120_000);

describe(`analyse runs on ${dbKind}`, () => {
  it('records a run that waited: its result, what started it and when, newest first', async () => {
    const done = await call('POST', '/v1/jobs/analyse', keys.admin, { asOf: AS_OF });
    expect(done.status).toBe(200);
    const { runId, ...result } = done.body;
    expect(runId).toBeGreaterThan(0);

    const one = await call('GET', `/v1/jobs/analyse/runs/${runId}`, keys.marketer);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ runId, kind: 'analyse', asOf: '2026-10-31T04:00:00.000Z', trigger: 'api', status: 'done', error: null });
    expect(one.body.result).toEqual(result);
    expect(Date.parse(one.body.finishedAt)).toBeGreaterThanOrEqual(Date.parse(one.body.startedAt));

    const cli = await analyseRunnerFor(getDeps()).start(
      { asOf: new Date(OTHER), timeZone: 'America/New_York', rules: getDeps().rules.current() },
      'cli',
    )!.done;
    const list = await call('GET', '/v1/jobs/analyse/runs', keys.admin);
    expect(list.status).toBe(200);
    expect(list.body.runs.map((r: any) => [r.trigger, r.asOf, r.status])).toEqual([
      ['cli', cli.asOf, 'done'],
      ['api', '2026-10-31T04:00:00.000Z', 'done'],
    ]);
    expect(list.body.runs[0].runId).toBeGreaterThan(runId);
    // pages
    const first = await call('GET', '/v1/jobs/analyse/runs?limit=1', keys.admin);
    expect(first.body.runs.map((r: any) => r.runId)).toEqual([list.body.runs[0].runId]);
    const next = await call('GET', `/v1/jobs/analyse/runs?limit=1&before=${first.body.runs[0].runId}`, keys.admin);
    expect(next.body.runs.map((r: any) => r.runId)).toEqual([runId]);
  }, 120_000);

  it('wait: false answers 202 at once with the running run and its Location, which ends done', async () => {
    const started = await call('POST', '/v1/jobs/analyse', keys.admin, { asOf: AS_OF, wait: false });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: 'analyse', status: 'running', trigger: 'api', finishedAt: null, result: null });
    expect(started.location).toBe(`/v1/jobs/analyse/runs/${started.body.runId}`);
    const done = await until(started.location!, 'done');
    expect(done.body.result.scoredMembers).toBeGreaterThan(50);
    expect(done.body.startedAt).toBe(started.body.startedAt);
  }, 120_000);

  it('shows the run going on in this process; the same instant joins it, another is refused', async () => {
    const { running, release } = heldStart(analyseRunnerFor(getDeps()), AS_OF, 'schedule');
    const { id } = await running.started;
    try {
      const joined = await call('POST', '/v1/jobs/analyse', keys.admin, { asOf: AS_OF, wait: false });
      expect(joined.status).toBe(202);
      expect(joined.body).toMatchObject({ runId: id, status: 'running', trigger: 'schedule' });
      expect((await call('POST', '/v1/jobs/analyse', keys.admin, { asOf: OTHER, wait: false })).status).toBe(409);
      const list = await call('GET', '/v1/jobs/analyse/runs?limit=2', keys.marketer);
      expect(list.body.runs.map((r: any) => [r.runId, r.status])[0]).toEqual([id, 'running']);
      expect(list.body.runs[1].status).toBe('done');
      expect((await call('GET', `/v1/jobs/analyse/runs/${id}`, keys.admin)).body.status).toBe('running');
    } finally {
      release();
    }
    await running.done;
    expect((await call('GET', `/v1/jobs/analyse/runs/${id}`, keys.admin)).body).toMatchObject({ status: 'done', trigger: 'schedule' });
  }, 120_000);

  it('records a failed run with its error, and a run whose record fails changes no analytics', async () => {
    const deps = getDeps();
    const before = await analytics();
    await sql`alter table member_traits rename to hidden_for_test`.execute(deps.db);
    try {
      const started = await call('POST', '/v1/jobs/analyse', keys.admin, { asOf: OTHER, wait: false });
      expect(started.status).toBe(202);
      const failed = await until(started.location!, 'failed');
      expect(failed.body.error).toMatch(/member_traits/);
      expect(failed.body.result).toBeNull();
    } finally {
      await sql`alter table hidden_for_test rename to member_traits`.execute(deps.db);
    }
    expect(await analytics()).toBe(before);

    // The done record is written in the run's own transaction: when it cannot be, nothing commits.
    await sql`alter table job_runs add constraint no_more_runs check (status <> 'done') not valid`.execute(deps.db);
    try {
      const run = analyseRunnerFor(deps).start(
        { asOf: new Date(OTHER), timeZone: 'America/New_York', rules: deps.rules.current() },
        'cli',
      )!;
      await expect(run.done).rejects.toThrow(/no_more_runs/);
      const failed = await call('GET', `/v1/jobs/analyse/runs/${(await run.started).id}`, keys.admin);
      expect(failed.body).toMatchObject({ status: 'failed', trigger: 'cli' });
      expect(failed.body.error).toMatch(/no_more_runs/);
    } finally {
      await sql`alter table job_runs drop constraint no_more_runs`.execute(deps.db);
    }
    expect(await analytics()).toBe(before);
  }, 120_000);

  it('answers 404 for a run it does not know, 422 for a bad id or page, and only to admins and marketers', async () => {
    expect((await call('GET', '/v1/jobs/analyse/runs/999999', keys.admin)).status).toBe(404);
    for (const path of ['/v1/jobs/analyse/runs/abc', '/v1/jobs/analyse/runs/0', '/v1/jobs/analyse/runs?limit=0', '/v1/jobs/analyse/runs?before=-1']) {
      const res = await call('GET', path, keys.admin);
      expect(res.status, path).toBe(422);
      expect(res.body.issues.length, path).toBeGreaterThan(0);
    }
    expect((await call('GET', '/v1/jobs/analyse/runs', keys.pos)).status).toBe(403);
    expect((await call('GET', '/v1/jobs/analyse/runs', null)).status).toBe(401);
    expect((await call('POST', '/v1/jobs/analyse', keys.marketer, { wait: false })).status).toBe(403);
    const bad = await call('POST', '/v1/jobs/analyse', keys.admin, { wait: 'no' });
    expect(bad.status).toBe(422);
    expect(JSON.stringify(bad.body.issues)).toContain('wait');
    // Where work cannot outlive its request (Workers), nothing is left running in the background.
    const edge = await createApp({ ...getDeps(), requestBound: true }).request('/v1/jobs/analyse', {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ asOf: AS_OF, wait: false }),
    });
    expect(edge.status).toBe(422);
    expect(((await edge.json()) as any).issues[0].path).toBe('wait');
    expect(analyseRunnerFor(getDeps()).busy).toBe(false);
  });
  it('keeps a running run alive with heartbeats, and stops beating when it ends', async () => {
    const deps = getDeps();
    const beat = async (id: number) =>
      (await sql<{ at: string }>`select heartbeat_at::text as at from job_runs where id = ${id}`.execute(deps.db)).rows[0]!.at;
    const { running, release } = heldStart(new AnalyseRunner(deps, 20), AS_OF, 'cli');
    const { id } = await running.started;
    try {
      // Until a beat lands (every 20 ms), not for a fixed pause that a loaded machine may spend
      // without one.
      const first = await beat(id);
      let next = first;
      for (let i = 0; i < 1200 && next === first; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        next = await beat(id);
      }
      expect(next).not.toBe(first);
    } finally {
      release();
    }
    await running.done;
    const last = await beat(id);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await beat(id)).toBe(last);
    expect((await call('GET', `/v1/jobs/analyse/runs/${id}`, keys.admin)).body.status).toBe('done');
  }, 120_000);

  it('lists a run another process is running from its row, and calls it abandoned once it falls silent', async () => {
    const deps = getDeps();
    // What another process's runner writes when it starts a run.
    const other = await beginRun(deps.db, { kind: 'analyse', asOf: new Date(OTHER), trigger: 'schedule' });
    const one = await call('GET', `/v1/jobs/analyse/runs/${other.id}`, keys.marketer);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ runId: other.id, status: 'running', trigger: 'schedule', finishedAt: null, result: null, error: null });
    expect((await call('GET', '/v1/jobs/analyse/runs?limit=1', keys.admin)).body.runs[0]).toMatchObject({ runId: other.id, status: 'running' });

    // Its process died: no heartbeat for over a minute.
    await sql`update job_runs set heartbeat_at = heartbeat_at - interval '61 seconds' where id = ${other.id}`.execute(deps.db);
    const gone = await call('GET', `/v1/jobs/analyse/runs/${other.id}`, keys.admin);
    expect(gone.body).toMatchObject({ status: 'abandoned', finishedAt: null, result: null });
    expect(gone.body.error).toMatch(/no sign of life for 6\d s/);
    // Silent for less than a minute, it is still taken for running.
    await sql`update job_runs set heartbeat_at = clock_timestamp() - interval '50 seconds' where id = ${other.id}`.execute(deps.db);
    expect((await call('GET', `/v1/jobs/analyse/runs/${other.id}`, keys.admin)).body.status).toBe('running');
    await endRun(deps.db, other.id, { error: 'test: ended' });
    expect((await call('GET', `/v1/jobs/analyse/runs/${other.id}`, keys.admin)).body).toMatchObject({ status: 'failed', error: 'test: ended' });
    await expect(endRun(deps.db, other.id, { error: 'again' })).rejects.toThrow(/no running row/);
  });

  it.skipIf(!databaseUrl)('follows a run that another process runs on the same database, until it is done', async () => {
    const deps = getDeps();
    // A second pool on the same database, with its own runner: another server behind the same
    // load balancer, or the CLI.
    const second = await openPostgres((deps.database as { url?: string }).url!, 4);
    try {
      const { running, release } = heldStart(analyseRunnerFor({ db: second.db, logger: silentLogger }), AS_OF, 'cli');
      const { id } = await running.started;
      expect(analyseRunnerFor(deps).current).toBeNull();
      try {
        expect((await call('GET', `/v1/jobs/analyse/runs/${id}`, keys.admin)).body).toMatchObject({ runId: id, status: 'running', trigger: 'cli' });
      } finally {
        release();
      }
      await running.done;
      const done = await call('GET', `/v1/jobs/analyse/runs/${id}`, keys.admin);
      expect(done.body).toMatchObject({ status: 'done', trigger: 'cli' });
      expect(done.body.result.scoredMembers).toBeGreaterThan(50);
    } finally {
      await second.close();
    }
  }, 120_000);
});
