import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (for servers the tests start as processes). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Waits until the server process `child` answers `${base}/readyz`; throws with its output (`log()`)
 * when it exits first or is not ready within about a minute.
 */
export async function untilReady(base: string, child: { exitCode: number | null }, log: () => string): Promise<void> {
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`server exited:\n${log()}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {
      /* not yet */
    }
    if (i > 600) throw new Error(`server not ready:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
