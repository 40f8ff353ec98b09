import type { Deps } from '../../src/deps.ts';
import { fixedClock } from '../../src/lib/clock.ts';
import { cryptoIds } from '../../src/lib/ids.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { staticRules } from '../../src/rules/rule-set.ts';
import { testConfig } from './db.ts';

/**
 * Deps for reading the app's OpenAPI document at a test file's collection time, so each
 * operation can be a test of its own: building the app and serving /openapi.json touch no database.
 */
export const docDeps = {
  db: undefined as never,
  clock: fixedClock('2026-11-24T15:00:00Z'),
  ids: cryptoIds,
  logger: silentLogger,
  config: testConfig,
  rules: staticRules(),
} satisfies Deps;
