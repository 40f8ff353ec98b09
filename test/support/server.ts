import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { NODE_FLAGS } from './node-flags.ts';

const root = join(import.meta.dirname, '..', '..');

export interface ServerProcess {
  child: ChildProcess;
  /** How it ended: its exit code, or the signal that killed it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it printed so far, stdout and stderr together. */
  log: () => string;
}

/**
 * `node src/node.ts` as a child process, as an operator starts it: `env` on top of PATH and quiet
 * defaults (no rules reload, no schedules, info logs); the caller kills it.
 */
export function spawnServer(env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, [...NODE_FLAGS, 'src/node.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH!, RULES_RELOAD: 'off', ANALYSE_SCHEDULE: 'off', LISTS_SCHEDULE: 'off', LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, log: () => log };
}
