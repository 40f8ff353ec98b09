import { sql } from 'kysely';
import type { Db } from '../../src/db/index.ts';

/**
 * A transaction on a connection of its own that runs `take` (taking some lock) and then stays open
 * until `release()`: for tests that need another session to hold a lock while the code under test
 * runs. `pid` is its backend; `done` settles when it has ended.
 */
export async function holdInTransaction(
  db: Db,
  take: (tx: Db) => Promise<unknown>,
): Promise<{ pid: number; release: () => void; done: Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding!: (pid: number) => void;
  let failed!: (error: unknown) => void;
  const started = new Promise<number>((resolve, reject) => {
    holding = resolve;
    failed = reject;
  });
  const done = db
    .transaction()
    .execute(async (tx) => {
      await take(tx);
      holding((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx)).rows[0]!.pid);
      await released;
    })
    .catch((error: unknown) => failed(error));
  return { pid: await started, release, done };
}

/**
 * The one backend of this database (other than ours and `holder`) waiting for a lock (of
 * `wait_event` `event` when given, e.g. 'advisory'), once `ready` holds; null after a minute.
 */
export async function backendWaiting(
  db: Db,
  holder: number,
  event: string | null,
  ready: () => boolean = () => true,
): Promise<number | null> {
  for (let i = 0; i < 1200; i++) {
    const { rows } = await sql<{ pid: number }>`
      select pid from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'
        and (${event}::text is null or wait_event = ${event}::text)
        and pid not in (pg_backend_pid(), ${holder})`.execute(db);
    if (ready() && rows.length === 1) return rows[0]!.pid;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}
