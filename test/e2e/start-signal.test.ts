import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useProcessDatabase } from '../support/cli.ts';
import { databaseUrl, dbKind } from '../support/db.ts';
import { freePort } from '../support/net.ts';
import { spawnServer } from '../support/server.ts';

// SIGTERM (a deploy, `docker stop`, Ctrl-C) while the server is still starting — migrating, or
// loading the demo chain on its first start. It used to kill the process on the spot (no handler
// yet): PGlite not closed, its data folder possibly in need of recovery, the start half done.
// Now the start stops at the next safe point, closes the database, releases the data folder and
// exits non-zero saying so; the next start completes the demo chain from what was committed.

const { dir, env } = useProcessDatabase('cadence-start-signal-');
// The demo's key and load state live here, on PostgreSQL too (not in the checkout's ./data).
const dataDir = () => env().DATA_DIR ?? join(dir, 'data');
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function startServer(port: number) {
  const server = spawnServer({ ...env(), DATA_DIR: dataDir(), PORT: String(port), DEMO: 'on' });
  children.add(server.child);
  return server;
}

async function until(what: string, check: () => boolean, ms: number, log: () => string) {
  for (const end = Date.now() + ms; !check(); ) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe(`SIGTERM while the server starts on ${dbKind}`, () => {
  it('during the demo load: stops at a safe point, closes the database, releases the folder; the next start completes the demo', async () => {
    const first = startServer(await freePort());
    // Some baskets are in and more to come: a progress line of the basket phase, 1–99 % (not the
    // members phase at 0 %, nor the final 100 % line, printed as the load ends).
    await until('the demo load', () => /demo chain \[[#-]+\]\s+[1-9]\d?%\s+[1-9][\d,]* rows/.test(first.log()), 120_000, first.log);
    first.child.kill('SIGTERM');
    const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000));
    const outcome = await Promise.race([first.exited, timeout]);
    expect(outcome, `no exit within 60 s of SIGTERM:\n${first.log()}`).not.toBe('hung');
    const { code, signal } = outcome as { code: number | null; signal: NodeJS.Signals | null };
    // not killed by the signal: it handled it, and says it did not start
    expect(signal, first.log()).toBeNull();
    expect(code, first.log()).toBe(143);
    expect(first.log()).toContain('SIGTERM received while starting');
    expect(first.log()).toMatch(/start-up stopped by SIGTERM.*database closed/);
    expect(first.log()).not.toContain('Cadence is running');
    if (!databaseUrl) expect(existsSync(join(dataDir(), 'cadence.lock'))).toBe(false);
    // what was loaded stays; the next start is told to complete it
    expect(existsSync(join(dataDir(), 'demo-loading.json'))).toBe(true);

    // The next start gets the folder, completes the demo chain and serves it.
    const port = await freePort();
    const second = startServer(port);
    try {
      await until('the second start', () => second.log().includes('Cadence is running'), 240_000, second.log);
      expect(second.log(), second.log()).toContain('demo chain loaded: 8 stores, 5000 members');
      const key = /demo admin key: (cad_\S+)/.exec(second.log())?.[1];
      expect(key, second.log()).toBeTruthy();
      const keys = await fetch(`http://127.0.0.1:${port}/v1/keys`, { headers: { authorization: `Bearer ${key}` } });
      expect(keys.status).toBe(200);
      expect(existsSync(join(dataDir(), 'demo-loading.json'))).toBe(false);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 420_000);
});
