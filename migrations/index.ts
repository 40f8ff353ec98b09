import type { Migration } from 'kysely/migration';
import * as foundation from './20261124_01_foundation.ts';
import * as simTruth from './20261124_02_sim_truth.ts';
import * as cycles from './20261124_03_cycles.ts';
import * as memberAnalytics from './20261124_04_member_analytics.ts';
import * as offersLists from './20261124_05_offers_lists.ts';
import * as checkout from './20261124_06_checkout.ts';
import * as simLoop from './20261124_07_sim_loop.ts';
import * as basketsWithoutForeignKeys from './20261125_08_baskets_without_foreign_keys.ts';
import * as dropImportStagingLines from './20261125_09_drop_import_staging_lines.ts';
import * as returnedUnitsPerReturnTerminal from './20261125_10_returned_units_per_return_terminal.ts';
import * as analyticsNextSchema from './20261125_11_analytics_next_schema.ts';
import * as jobRuns from './20261125_12_job_runs.ts';
import * as jobRunsWhileRunning from './20261125_13_job_runs_while_running.ts';
import * as offerFileCursor from './20261125_14_offer_file_cursor.ts';
import * as conflictsOfflineNotApplicable from './20261125_15_conflicts_offline_not_applicable.ts';
import * as reconciliationAcknowledged from './20261125_16_reconciliation_acknowledged.ts';
import * as jobRunsLists from './20261125_17_job_runs_lists.ts';
import * as memberCards from './20261125_18_member_cards.ts';

/**
 * Static list of migrations (Workers have no filesystem to scan). Names sort by time; never
 * rename or edit a migration that has shipped — add a new one.
 */
export const migrations: Record<string, Migration> = {
  '20261124_01_foundation': foundation,
  '20261124_02_sim_truth': simTruth,
  '20261124_03_cycles': cycles,
  '20261124_04_member_analytics': memberAnalytics,
  '20261124_05_offers_lists': offersLists,
  '20261124_06_checkout': checkout,
  '20261124_07_sim_loop': simLoop,
  '20261125_08_baskets_without_foreign_keys': basketsWithoutForeignKeys,
  '20261125_09_drop_import_staging_lines': dropImportStagingLines,
  '20261125_10_returned_units_per_return_terminal': returnedUnitsPerReturnTerminal,
  '20261125_11_analytics_next_schema': analyticsNextSchema,
  '20261125_12_job_runs': jobRuns,
  '20261125_13_job_runs_while_running': jobRunsWhileRunning,
  '20261125_14_offer_file_cursor': offerFileCursor,
  '20261125_15_conflicts_offline_not_applicable': conflictsOfflineNotApplicable,
  '20261125_16_reconciliation_acknowledged': reconciliationAcknowledged,
  '20261125_17_job_runs_lists': jobRunsLists,
  '20261125_18_member_cards': memberCards,
};
