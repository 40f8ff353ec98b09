import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * PGlite is one process's database: whoever opens a data folder owns it. This lock file makes a
 * second opener (the CLI while the server runs, or a second server) fail with a clear message
 * instead of corrupting the folder. Stale locks (dead pid) are taken over.
 */
export interface LockInfo {
  pid: number;
  owner: 'server' | 'cli';
  url?: string;
  startedAt: string;
}

export class DataDirBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockInfo,
  ) {
    super(
      holder.owner === 'server'
        ? `the server is running on this data folder (${dataDir}, pid ${holder.pid}${holder.url ? `, ${holder.url}` : ''}): ` +
            'stop it first, or use its HTTP API, or point DATABASE_URL at a PostgreSQL server'
        : `another cadence command (pid ${holder.pid}) is using the data folder ${dataDir}; wait for it to finish`,
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates the data folder private to its owner (0700), or closes an existing one to other users
 * (at most 0750, as PostgreSQL allows its own): it holds members' names, e-mails and phone
 * numbers, and PGlite writes its files readable and writable by anyone (0666).
 */
export function ensurePrivateDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o027) chmodSync(dir, mode & ~0o027);
}

export function lockDataDir(dataDir: string, info: Omit<LockInfo, 'pid' | 'startedAt'>): () => void {
  ensurePrivateDir(dataDir);
  const path = join(dataDir, 'cadence.lock');
  const mine: LockInfo = { ...info, pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify(mine));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          const current = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
          if (current.pid === process.pid) unlinkSync(path);
        } catch {
          // already gone
        }
      };
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: LockInfo | null = null;
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
      } catch {
        holder = null;
      }
      if (holder && holder.pid !== process.pid && alive(holder.pid)) {
        throw new DataDirBusyError(dataDir, holder);
      }
      if (existsSync(path)) unlinkSync(path);
    }
  }
  throw new Error(`could not lock ${path}`);
}
