import postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import { Config } from '../../src/config.ts';
import { migrateToLatest, type Database } from '../../src/db/index.ts';
import { openPglite, openPostgres } from '../../src/db/node.ts';
import type { Deps } from '../../src/deps.ts';
import { staticRules } from '../../src/rules/rule-set.ts';
import { fixedClock } from '../../src/lib/clock.ts';
import { cryptoIds } from '../../src/lib/ids.ts';
import { silentLogger } from '../../src/lib/logger.ts';

export const databaseUrl = process.env.DATABASE_URL;
export const dbKind = databaseUrl ? 'postgres' : 'pglite';

/**
 * A fresh, migrated database for one test file: in-memory PGlite, or — when DATABASE_URL is set
 * (CI's second pass) — a throwaway database on that server, dropped afterwards.
 */
export async function freshDatabase(): Promise<Database & { url?: string; dispose(): Promise<void> }> {
  if (!databaseUrl) {
    const database = await openPglite('memory://');
    await migrateToLatest(database.db);
    return { ...database, dispose: () => database.close() };
  }
  const name = `cadence_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  const database = await openPostgres(url.toString(), 20);
  await migrateToLatest(database.db);
  return {
    ...database,
    url: url.toString(),
    async dispose() {
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export const testConfig: Config = Config.parse({ LOG_LEVEL: 'silent', CHAIN_TIME_ZONE: 'America/New_York' });

export type TestDeps = Deps & { clock: ReturnType<typeof fixedClock>; database: Database };

/** Registers beforeAll/afterAll hooks and returns a getter for this file's deps. */
export function useTestDeps(overrides: Partial<Omit<Deps, 'clock'>> = {}): () => TestDeps {
  let deps: TestDeps | undefined;
  let dispose: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const database = await freshDatabase();
    dispose = database.dispose;
    deps = {
      db: database.db,
      copyIn: database.copyIn,
      copyTx: database.copyTx,
      clock: fixedClock('2026-11-24T15:00:00Z'),
      ids: cryptoIds,
      logger: silentLogger,
      config: testConfig,
      rules: staticRules(),
      database,
      ...overrides,
    };
  });
  afterAll(async () => {
    await dispose?.();
  });
  return () => {
    if (!deps) throw new Error('test deps are only available inside tests');
    return deps;
  };
}
