import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { parseConfig } from './config.ts';
import { migrateToLatest } from './db/index.ts';
import { DataDirBusyError, lockDataDir } from './db/lock.ts';
import { openDatabase } from './db/node.ts';
import type { Deps } from './deps.ts';
import { systemClock } from './lib/clock.ts';
import { cryptoIds } from './lib/ids.ts';
import { jsonLogger } from './lib/logger.ts';

/** Node entry: embedded PGlite (or PostgreSQL via DATABASE_URL), migrations, the HTTP server. */
async function start(): Promise<void> {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) {
    console.error(`cadence: bad configuration:\n  ${parsed.errors.join('\n  ')}`);
    process.exit(1);
  }
  const config = parsed.config;
  const baseUrl = config.PUBLIC_URL ?? `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${config.PORT}`;
  let release = () => {};
  if (!config.DATABASE_URL) {
    try {
      release = lockDataDir(config.DATA_DIR, { owner: 'server', url: baseUrl });
    } catch (err) {
      if (err instanceof DataDirBusyError) {
        console.error(`cadence: ${err.message}`);
        process.exit(1);
      }
      throw err;
    }
  }
  const logger = jsonLogger(config.LOG_LEVEL, (line) => process.stdout.write(`${line}\n`));
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const applied = await migrateToLatest(database.db);
  if (applied.length) logger.info('migrations applied', { migrations: applied });

  const deps: Deps = {
    db: database.db,
    copyIn: database.copyIn,
    clock: systemClock,
    ids: cryptoIds,
    logger,
    config,
  };
  const app = createApp(deps);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    const where = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.DATA_DIR}`;
    console.log(`\nCadence is running on ${baseUrl} (port ${info.port}), database: ${where}`);
    console.log(`  API docs:     ${baseUrl}/docs   (OpenAPI: ${baseUrl}/openapi.json)`);
    console.log(`  health:       ${baseUrl}/healthz, ${baseUrl}/readyz`);
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    server.close();
    await database.close();
    release();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

start().catch((err: unknown) => {
  console.error('cadence: failed to start:', err);
  process.exit(1);
});
