import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCadence, useProcessDatabase } from '../support/cli.ts';
import { databaseUrl, dbKind } from '../support/db.ts';
import { freePort, untilReady } from '../support/net.ts';
import { spawnServer } from '../support/server.ts';
import { holdInTransaction } from '../support/locks.ts';
import { lockAnalytics } from '../../src/analytics/repo.ts';
import { openPostgres } from '../../src/db/node.ts';

// SIGTERM (a deploy, `docker stop`) while a job runs: the server stops taking requests, gives the
// run SHUTDOWN_GRACE_SECONDS to finish, records it as failed when it cannot, closes the database,
// releases the data folder and exits — instead of hanging with the run half-recorded.

const { env } = useProcessDatabase('cadence-shutdown-');
const children = new Set<ChildProcess>();
let key = '';

beforeAll(async () => {
  const loaded = await runCadence(env(), 'sim', 'generate', '--members', '300', '--stores', '2', '--weeks', '26', '--seed', '3', '--end', '2026-10-31');
  expect(loaded.code, loaded.stderr).toBe(0);
  const created = await runCadence(env(), 'keys', 'create', '--role', 'admin', '--name', 'ops');
  key = /(cad_\S+)/.exec(created.stdout)![1]!;
}, 180_000);
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

async function startServer(extra: Record<string, string> = {}) {
  const port = await freePort();
  const server = spawnServer({ ...env(), PORT: String(port), DEMO: 'off', ...extra });
  const { child, log } = server;
  children.add(child);
  const exited = server.exited.then((e) => e.code);
  const base = `http://127.0.0.1:${port}`;
  await untilReady(base, child, log);
  return { base, child, exited, log };
}

const api = (base: string, path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers },
  });

async function exitWithin(server: Awaited<ReturnType<typeof startServer>>, ms: number) {
  const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms));
  const code = await Promise.race([server.exited, timeout]);
  expect(code, `the server did not exit within ${ms} ms of SIGTERM:\n${server.log()}`).not.toBe('hung');
  return code;
}

/** Waits until the server has logged `text`; throws with its log when it exits first or after a minute. */
async function untilLogged(server: Awaited<ReturnType<typeof startServer>>, text: string) {
  for (const end = Date.now() + 60_000; !server.log().includes(text); ) {
    if (server.child.exitCode !== null || Date.now() > end) throw new Error(`no ${text} in the log:\n${server.log()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runAfterRestart(runId: number) {
  const again = await startServer();
  try {
    const res = await api(again.base, `/v1/jobs/analyse/runs/${runId}`);
    expect(res.status).toBe(200);
    return (await res.json()) as { status: string; error: string | null };
  } finally {
    again.child.kill('SIGTERM');
    await exitWithin(again, 30_000);
  }
}

describe(`SIGTERM during a job run on ${dbKind}`, () => {
  it('lets the run finish within the grace, closes the database and releases the data folder', async () => {
    const server = await startServer();
    const started = await api(server.base, '/v1/jobs/analyse', { method: 'POST', body: JSON.stringify({ wait: false, asOf: '2026-10-31T00:00:00Z' }) });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: number };
    server.child.kill('SIGTERM');
    const code = await exitWithin(server, 60_000);
    expect(code, server.log()).toBe(0);
    expect(server.log()).toContain('"msg":"shutting down"');
    expect(server.log()).toContain('"msg":"database closed"');
    if (!databaseUrl) expect(existsSync(join(env().DATA_DIR!, 'cadence.lock'))).toBe(false);
    const run = await runAfterRestart(runId);
    expect(run.status).toBe('done');
  }, 180_000);

  it('answers a request in flight (a run it waits for) before it exits, and refuses new connections', async () => {
    // debug: the run logs each step it has done
    const server = await startServer({ LOG_LEVEL: 'debug' });
    const pending = api(server.base, '/v1/jobs/analyse', { method: 'POST', body: JSON.stringify({ wait: true, asOf: '2026-10-28T00:00:00Z' }) });
    // The signal once the run is under way (a first step done), not after a pause: 150 ms was too
    // short for a loaded machine, whose server then got the signal before the request.
    await untilLogged(server, '"msg":"analyse step done"');
    server.child.kill('SIGTERM');
    const res = await pending;
    expect(res.status, server.log()).toBe(200);
    expect(((await res.json()) as { members: number }).members).toBe(300);
    await exitWithin(server, 60_000);
    await expect(fetch(`${server.base}/healthz`)).rejects.toThrow();
  }, 180_000);

  it('records a run the grace cannot wait for as failed, never leaving it running', async () => {
    let runId = 0;
    const server = await startServer({ SHUTDOWN_GRACE_SECONDS: '0' });
    // On PostgreSQL a list job reading the analytics (its lock held here until the server is gone)
    // keeps the run from finishing before the signal: a test process late by the run's second or so
    // after the 202 would have seen it done.
    const reader = databaseUrl ? await openPostgres(env().DATABASE_URL!, 1) : null;
    const lock = reader ? await holdInTransaction(reader.db, (tx) => lockAnalytics(tx, 'read')) : null;
    try {
      const started = await api(server.base, '/v1/jobs/analyse', { method: 'POST', body: JSON.stringify({ wait: false, asOf: '2026-10-30T00:00:00Z' }) });
      expect(started.status).toBe(202);
      runId = ((await started.json()) as { runId: number }).runId;
      server.child.kill('SIGTERM');
      await exitWithin(server, 30_000);
    } finally {
      lock?.release();
      await lock?.done;
      await reader?.close();
    }
    if (!databaseUrl) expect(existsSync(join(env().DATA_DIR!, 'cadence.lock'))).toBe(false);
    const run = await runAfterRestart(runId);
    // PGlite runs the job's queries on the server's one thread: the signal may only be seen once
    // the run is done. Either way the run is never left `running` (or shown `abandoned`).
    if (run.status !== 'done') {
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/stopped \(SIGTERM\)/);
    }
    if (databaseUrl) expect(run.status).toBe('failed');
  }, 180_000);

  // On PostgreSQL other processes may be running runs, so a dead one shows as abandoned after a
  // minute without heartbeat (test/jobs/runs.test.ts); the embedded folder is one process's.
  it.skipIf(!!databaseUrl)('the next start records a run its killed process left running as failed', async () => {
    const server = await startServer();
    const started = await api(server.base, '/v1/jobs/analyse', { method: 'POST', body: JSON.stringify({ wait: false, asOf: '2026-10-29T00:00:00Z' }) });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: number };
    // At once: the 202 comes after the run's row is committed as running, and the analysis of
    // this chain takes about a second; a pause here let a fast machine finish it first (CI, stop 17).
    server.child.kill('SIGKILL');
    await exitWithin(server, 10_000);
    const run = await runAfterRestart(runId);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/stopped .* before it finished/);
  }, 180_000);
});
