import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { databaseUrl, freshDatabase } from './db.ts';
import { NODE_FLAGS } from './node-flags.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/** Runs `cadence ARGS` (src/cli.ts) as a child process with `env` and PATH; never throws on exit codes. */
export async function runCadence(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run('node', [...NODE_FLAGS, 'src/cli.ts', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH!, LOG_LEVEL: 'warn', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * A database for tests that run the CLI or the server as processes, and a temp folder beside it:
 * a throwaway PostgreSQL database when DATABASE_URL is set (CI's second pass; the CLI migrates it
 * itself), else an embedded one in the folder. `env()` is what the processes need to find it; both
 * are removed after the file's tests.
 */
export function useProcessDatabase(prefix: string): { dir: string; env: () => Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let env: Record<string, string> | undefined;
  let dispose = async () => {};
  beforeAll(async () => {
    if (databaseUrl) {
      const db = await freshDatabase();
      env = { DATABASE_URL: db.url! };
      dispose = db.dispose;
    } else {
      env = { DATA_DIR: join(dir, 'data') };
    }
  });
  afterAll(async () => {
    await dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    env: () => {
      if (!env) throw new Error('the database is only there inside tests');
      return env;
    },
  };
}
