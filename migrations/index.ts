import type { Migration } from 'kysely/migration';
import * as foundation from './20261124_01_foundation.ts';
import * as simTruth from './20261124_02_sim_truth.ts';

/**
 * Static list of migrations (Workers have no filesystem to scan). Names sort by time; never
 * rename or edit a migration that has shipped — add a new one.
 */
export const migrations: Record<string, Migration> = {
  '20261124_01_foundation': foundation,
  '20261124_02_sim_truth': simTruth,
};
