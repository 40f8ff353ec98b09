import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useProcessDatabase } from '../support/cli.ts';
import { databaseUrl, dbKind } from '../support/db.ts';
import { freePort } from '../support/net.ts';
import { spawnServer } from '../support/server.ts';

// A port already taken (a second server, another program on 3000) used to be found only when the
// server went to listen — after the demo load on a first start — and then killed the process on an
// unhandled 'error' event: a stack trace, PGlite not closed. Now the start checks the port first
// and says which setting to change; a port taken during the start ends it as cleanly.

const { dir, env } = useProcessDatabase('cadence-start-port-');
const dataDir = () => env().DATA_DIR ?? join(dir, 'data');
const children = new Set<ChildProcess>();
const holders = new Set<Server>();
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([...holders].map((h) => new Promise((r) => h.close(r))));
});

function startServer(port: number, extra: Record<string, string> = {}) {
  const server = spawnServer({ ...env(), DATA_DIR: dataDir(), PORT: String(port), ...extra });
  children.add(server.child);
  return server;
}

async function holdPort(port: number): Promise<void> {
  const holder = createServer();
  holders.add(holder);
  await new Promise<void>((resolve, reject) => {
    holder.once('error', reject);
    holder.listen({ port, host: '127.0.0.1' }, resolve);
  });
}

async function exitCode(server: ReturnType<typeof startServer>, ms: number) {
  const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms));
  const code = await Promise.race([server.exited.then((e) => e.code), timeout]);
  expect(code, `no exit within ${ms} ms:\n${server.log()}`).not.toBe('hung');
  return code;
}

describe(`a port in use on ${dbKind}`, () => {
  it('is found before the database is opened: one line naming PORT, exit 1, nothing loaded', async () => {
    const port = await freePort();
    await holdPort(port);
    const server = startServer(port, { DEMO: 'on' });
    expect(await exitCode(server, 60_000)).toBe(1);
    const log = server.log();
    expect(log).toContain(`cadence: port ${port} on 127.0.0.1 is in use by another program (PORT)`);
    expect(log).not.toMatch(/Unhandled|EADDRINUSE|at .*\(node:/);
    expect(log).not.toContain('migrations applied');
    expect(log).not.toContain('demo chain');
    expect(existsSync(join(dataDir(), 'cadence.lock'))).toBe(false);
  }, 90_000);

  // PGlite only: the demo load is the long step a port can be taken in (on PostgreSQL the same
  // handler runs; the embedded folder is where a lock and an unclosed database would show).
  it.skipIf(!!databaseUrl)('taken during the start: the same message once listening fails, the folder released', async () => {
    const port = await freePort();
    const server = startServer(port, { DEMO: 'on' });
    for (const end = Date.now() + 120_000; !/demo chain \[[#-]+\]\s+[1-9]\d?%\s+[1-9][\d,]* rows/.test(server.log()); ) {
      if (Date.now() > end || server.child.exitCode !== null) throw new Error(`the demo load did not start:\n${server.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await holdPort(port);
    expect(await exitCode(server, 240_000)).toBe(1);
    const log = server.log();
    expect(log).toContain('demo chain loaded');
    // the shipped rules are checked against the demo's catalogue once it is loaded, not against
    // the empty one before (which warned on every first start)
    expect(log).not.toContain('the catalogue is empty');
    expect(log).toContain(`cadence: port ${port} on 127.0.0.1 is in use by another program (PORT)`);
    expect(log).not.toMatch(/Unhandled|at .*\(node:/);
    expect(log).not.toContain('Cadence is running');
    expect(existsSync(join(dataDir(), 'cadence.lock'))).toBe(false);
  }, 300_000);
});
