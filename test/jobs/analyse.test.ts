import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createApiKey } from '../../src/auth/index.ts';
import type { Db } from '../../src/db/index.ts';
import { lockAnalytics } from '../../src/analytics/repo.ts';
import { runAnalyse } from '../../src/jobs/analyse.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { analyseRunnerFor } from '../../src/jobs/runners.ts';
import { staticRules } from '../../src/rules/rule-set.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { backendWaiting, holdInTransaction } from '../support/locks.ts';

const getDeps = useTestDeps();
const AS_OF = '2026-10-31T04:00:00Z';
const SIX_DECIMALS = '(\\d+\\.\\d{6})\\d+';
let keys: { admin: string; marketer: string };

const WRITTEN = [
  'member_category_cells', 'member_scores', 'member_traits', 'category_associations',
  'member_product_cycles', 'member_category_cycles', 'cycle_priors', 'prediction_calibration',
  'member_product_scores',
];

/** Those, the back-test and the snapshots: every table a failed run must leave as it was. */
const EVERY_TABLE = [...WRITTEN, 'member_product_backtest', 'analytics_snapshots'];

/** Row counts and a content hash of every table the analyse job writes. */
async function fingerprint(db: Db, tables = WRITTEN) {
  const out: Record<string, { rows: number; hash: string }> = {};
  for (const t of tables) {
    const { rows } = await sql<{ rows: number; hash: string | null }>`
      select count(*)::int as rows,
        -- floats to 6 decimals: PostgreSQL's parallel aggregates may differ in the last digits
        md5(string_agg(regexp_replace(x::text, ${SIX_DECIMALS}, ${'\\1'}, 'g'), '|' order by x::text)) as hash
      from ${sql.table(t)} x`.execute(db);
    out[t] = { rows: rows[0]!.rows, hash: rows[0]!.hash ?? '' };
  }
  return out;
}

/**
 * A run as of OTHER whose chain writing `table` is held on that table's lock (taken here) until
 * the other chain is done: `waiter` is the held chain's backend (null if it never waited).
 */
async function heldRun(db: Db, table: string) {
  const lock = await holdInTransaction(db, (tx) => sql`lock table ${sql.table(table)} in access exclusive mode`.execute(tx));
  // Each chain's last step is 'statistics': once one is logged, the other chain is done.
  let chainsDone = 0;
  const logger = {
    ...silentLogger,
    debug: (_: string, fields?: Record<string, unknown>) => {
      if (fields?.step === 'statistics') chainsDone++;
    },
  };
  const job = runAnalyse({ db, logger }, { ...jobOptions(OTHER), connections: 2 });
  job.catch(() => {});
  const waiter = await backendWaiting(db, lock.pid, 'relation', () => chainsDone === 1);
  return { lock, job, waiter };
}

const OTHER = '2026-10-24T04:00:00Z';
const jobOptions = (asOf: string) => ({
  asOf: new Date(asOf), timeZone: 'America/New_York', rules: staticRules().current(),
});

async function post(body: unknown, key: string | null) {
  const res = await createApp(getDeps()).request('/v1/jobs/analyse', {
    method: 'POST',
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  const deps = getDeps();
  const chain = generateChain({ seed: 5, members: 150, stores: 2, weeks: 30, endDate: '2026-10-30' });
  await loadSimChain(deps, chain);
  keys = {
    admin: (await createApiKey(deps, { name: 'a', role: 'admin' })).key,
    marketer: (await createApiKey(deps, { name: 'm', role: 'marketer' })).key,
  };
}, 120_000);

describe(`POST /v1/jobs/analyse on ${dbKind}`, () => {
  it('fills every analytics table, and a rerun as of the same instant changes nothing', async () => {
    const first = await post({ asOf: AS_OF }, keys.admin);
    expect(first.status).toBe(200);
    expect(first.body.asOf).toBe('2026-10-31T04:00:00.000Z');
    expect(first.body.members).toBe(150);
    expect(first.body.qualified).toBeGreaterThan(0);
    expect(first.body.scoredMembers).toBeGreaterThan(100);
    expect(Object.keys(first.body.timingsMs)).toEqual([
      'lines', 'cells', 'memberScores', 'traits', 'associations', 'cycles', 'calibration', 'scores', 'statistics',
    ]);
    const before = await fingerprint(getDeps().db);
    for (const [table, f] of Object.entries(before)) expect(f.rows, table).toBeGreaterThan(0);

    const again = await post({ asOf: AS_OF }, keys.admin);
    expect(again.status).toBe(200);
    expect(await fingerprint(getDeps().db)).toEqual(before);
  }, 120_000);

  it('writes the same tables on one connection as on two (two: member and prediction steps side by side)', async () => {
    const deps = getDeps();
    const opts = jobOptions(AS_OF);
    const two = await runAnalyse(deps, { ...opts, connections: 2 });
    const afterTwo = await fingerprint(deps.db);
    const one = await runAnalyse(deps, { ...opts, connections: 1 });
    expect(await fingerprint(deps.db)).toEqual(afterTwo);
    expect(Object.keys(two.timingsMs)).toEqual(Object.keys(one.timingsMs));
    expect({ ...two, timingsMs: {} }).toEqual({ ...one, timingsMs: {} });
  }, 120_000);

  it('is all or nothing: a step that fails leaves every table as the last run left it', async () => {
    const deps = getDeps();
    const rules = staticRules().current();
    const run = (asOf: string, connections: 1 | 2) =>
      runAnalyse(deps, { asOf: new Date(asOf), timeZone: 'America/New_York', rules, connections });
    await run(AS_OF, 2);
    const before = await fingerprint(deps.db, EVERY_TABLE);
    // A table a step writes made unreachable: that step fails, after others have written theirs.
    // member_traits: the member chain's third step (the prediction chain may have finished);
    // member_product_scores: the prediction chain's last (the member chain may have finished).
    for (const [table, connections] of [
      ['member_traits', 2], ['member_product_scores', 2], ['member_traits', 1], ['member_product_scores', 1],
    ] as const) {
      await sql`alter table ${sql.table(table)} rename to hidden_for_test`.execute(deps.db);
      try {
        await expect(run(OTHER, connections), `${table}, ${connections}`).rejects.toThrow(table);
      } finally {
        await sql`alter table hidden_for_test rename to ${sql.table(table)}`.execute(deps.db);
      }
      expect(await fingerprint(deps.db, EVERY_TABLE), `${table}, ${connections}`).toEqual(before);
    }
    // The run that failed would have changed every table.
    await run(OTHER, 2);
    const other = await fingerprint(deps.db, EVERY_TABLE);
    for (const t of EVERY_TABLE) expect(other[t], t).not.toEqual(before[t]);
    await run(AS_OF, 2);
    expect(await fingerprint(deps.db, EVERY_TABLE)).toEqual(before);
  }, 120_000);

  it.skipIf(dbKind !== 'postgres')(
    'on two connections, the chain that finished first rolls back when the other fails',
    async () => {
      const deps = getDeps();
      await runAnalyse(deps, jobOptions(AS_OF));
      const before = await fingerprint(deps.db, EVERY_TABLE);
      // A step held on a lock until the other chain is done, then cancelled: the failure comes
      // after the other chain finished its last step, whatever the two chains' speeds.
      for (const table of ['member_product_scores', 'member_traits']) {
        const { lock, job, waiter } = await heldRun(deps.db, table);
        expect(waiter, table).not.toBeNull();
        await sql`select pg_cancel_backend(${waiter})`.execute(deps.db);
        lock.release();
        await lock.done;
        await expect(job, table).rejects.toThrow(/cancel/);
        expect(await fingerprint(deps.db, EVERY_TABLE), table).toEqual(before);
      }
    },
    120_000,
  );

  it.skipIf(dbKind !== 'postgres')(
    'waits for a list job reading the analytics before replacing any table, then runs',
    async () => {
      const deps = getDeps();
      const rules = staticRules().current();
      const reader = await holdInTransaction(deps.db, (tx) => lockAnalytics(tx, 'read'));
      const job = runAnalyse(deps, { asOf: new Date(AS_OF), timeZone: 'America/New_York', rules, connections: 2 });
      job.catch(() => {});
      const waiter = await backendWaiting(deps.db, reader.pid, 'advisory');
      expect(waiter).not.toBeNull();
      // Nothing replaced meanwhile: the tables answer at once (a truncated one would block).
      await deps.db.transaction().execute(async (tx) => {
        await sql`set local lock_timeout = '2s'`.execute(tx);
        for (const t of WRITTEN) await sql`select count(*) from ${sql.table(t)}`.execute(tx);
      });
      reader.release();
      await reader.done;
      expect((await job).asOf).toBe('2026-10-31T04:00:00.000Z');
    },
    120_000,
  );

  it.skipIf(dbKind !== 'postgres')(
    'readers read the last run\'s rows while a run computes, without waiting for it',
    async () => {
      const deps = getDeps();
      await runAnalyse(deps, jobOptions(AS_OF));
      const READ = WRITTEN.filter((t) => t !== 'prediction_calibration');
      const before = await fingerprint(deps.db, READ);
      // The prediction chain held at its calibration (a table no reader below reads) until the
      // member chain is done: both chains have replaced tables by then.
      const { lock, job, waiter } = await heldRun(deps.db, 'prediction_calibration');
      try {
        expect(waiter).not.toBeNull();
        // Before, a replaced table was truncated and locked until the job committed: these waited.
        const during = await deps.db.transaction().execute(async (tx) => {
          await sql`set local lock_timeout = '2s'`.execute(tx);
          return fingerprint(tx, READ);
        });
        expect(during).toEqual(before);
      } finally {
        lock.release();
        await lock.done;
      }
      await job;
      const after = await fingerprint(deps.db, READ);
      for (const t of READ) expect(after[t], t).not.toEqual(before[t]);
      await runAnalyse(deps, jobOptions(AS_OF)); // as the tests below expect
    },
    120_000,
  );

  it.skipIf(dbKind !== 'postgres')(
    'moves its tables into place without hanging a reader that holds one chain\'s table and asks for the other\'s',
    async () => {
      const deps = getDeps();
      await runAnalyse(deps, jobOptions(AS_OF));
      const cells = async (db: Db) =>
        (await sql<{ n: number }>`select count(*)::int as n from member_category_cells`.execute(db)).rows[0]!.n;
      const cellsBefore = await cells(deps.db);
      // A reader holds the prediction chain's scores (as a query joining scores and cells would)...
      const reader = await deps.db.startTransaction().execute();
      try {
        await sql`select count(*) from member_product_scores`.execute(reader);
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(reader);
        const job = runAnalyse(deps, { ...jobOptions(OTHER), connections: 2 });
        job.catch(() => {});
        // ... so the prediction chain's move waits for it, while the member chain may hold cells,
        // moved already, until both commit ...
        expect(await backendWaiting(deps.db, rows[0]!.pid, 'relation')).not.toBeNull();
        // ... and then asks for cells: it gets them (the moves are retried in rounds that let go),
        // the live ones, and the job completes once it has ended.
        await sql`set local lock_timeout = '5s'`.execute(reader);
        expect(await cells(reader)).toBe(cellsBefore);
        await reader.commit().execute();
        expect((await job).asOf).toBe('2026-10-24T04:00:00.000Z');
      } finally {
        if (!reader.isCommitted) await reader.rollback().execute();
      }
      await runAnalyse(deps, jobOptions(AS_OF)); // as the tests below expect
    },
    120_000,
  );

  it('serves the profile the run computed', async () => {
    const { rows } = await sql<{ member_number: string }>`
      select m.member_number from member_scores s join members m on m.id = s.member_id
      where s.qualified order by s.member_id limit 1`.execute(getDeps().db);
    const res = await createApp(getDeps()).request(`/v1/members/${rows[0]!.member_number}/profile`, {
      headers: { authorization: `Bearer ${keys.marketer}` },
    });
    const profile = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(profile.asOf).toBe('2026-10-31T04:00:00.000Z');
    expect(profile.qualified).toBe(true);
    expect(profile.dueProducts.length).toBeGreaterThan(0);
  });

  it('refuses a second run while one is in progress, and shares the run asked for the same instant', async () => {
    const runner = analyseRunnerFor(getDeps());
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    let jobs = 0;
    const job = async (...args: Parameters<typeof runAnalyse>) => {
      jobs++;
      await held;
      return runAnalyse(...args);
    };
    const opts = { asOf: new Date(AS_OF), timeZone: 'America/New_York', rules: staticRules().current() };
    const first = runner.start(opts, 'api', job)!;
    expect(runner.busy).toBe(true);
    expect(runner.start(opts, 'cli', job)).toBe(first);
    expect(runner.start({ ...opts, asOf: new Date('2026-10-24T04:00:00Z') }, 'api', job)).toBeNull();

    const refused = await post({ asOf: '2026-10-24T04:00:00Z' }, keys.admin);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/already in progress/);
    finish();
    expect((await first.done).asOf).toBe('2026-10-31T04:00:00.000Z');
    expect(jobs).toBe(1);
    expect(runner.busy).toBe(false);
    expect((await post({ asOf: AS_OF }, keys.admin)).status).toBe(200);
  }, 120_000);

  it('names the bad field, and is for admins only', async () => {
    const bad = await post({ asOf: '2026-10-31T04:00:00' }, keys.admin);
    expect(bad.status).toBe(422);
    expect(JSON.stringify(bad.body.issues)).toContain('asOf');
    const unknown = await post({ asof: AS_OF }, keys.admin);
    expect(unknown.status).toBe(422);
    expect((await post({ asOf: AS_OF }, keys.marketer)).status).toBe(403);
    expect((await post({ asOf: AS_OF }, null)).status).toBe(401);
  });
});

describe('POST /v1/jobs/analyse, instants PostgreSQL cannot hold', () => {
  it('refuses an asOf outside 1900–9999 with 422 naming it (was a 500)', async () => {
    for (const asOf of ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00+14:00', '9999-12-31T23:59:59-14:00']) {
      const res = await post({ asOf }, keys.admin);
      expect(res.status, asOf).toBe(422);
      expect(res.body.issues).toEqual([{ path: 'asOf', message: 'outside 1900-01-01 … 9999-01-01' }]);
    }
  });

  it('refuses an asOf after now with 422 naming it: centuries ahead overflowed the recency weights, a 500', async () => {
    for (const asOf of ['9999-01-01T00:00:00Z', '2026-11-24T15:00:01Z']) {
      const res = await post({ asOf }, keys.admin);
      expect(res.status, asOf).toBe(422);
      expect(res.body.issues).toEqual([{ path: 'asOf', message: 'after now (2026-11-24T15:00:00.000Z)' }]);
    }
  });
});
