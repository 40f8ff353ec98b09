import type { Config } from './config.ts';
import type { CopyIn, CopyTx, Db } from './db/index.ts';
import type { Clock } from './lib/clock.ts';
import type { Ids } from './lib/ids.ts';
import type { Logger } from './lib/logger.ts';
import type { ListFonts } from './lists/pdf.ts';
import type { RuleSource } from './rules/rule-set.ts';

/** Everything the app and the verbs need, built by the entry point (node.ts, cli.ts, tests). */
export interface Deps {
  db: Db;
  /** Bulk COPY, where the driver has it. */
  copyIn?: CopyIn | undefined;
  /** A transaction that can COPY into itself, where the driver has it (bulk ingest). */
  copyTx?: CopyTx | undefined;
  clock: Clock;
  ids: Ids;
  logger: Logger;
  config: Config;
  /** The live rules/ (settings, traits; later campaigns). */
  rules: RuleSource;
  /**
   * True where no work may outlive the request that started it (Workers: the request's database
   * client closes with it), so a job cannot be left running in the background.
   */
  requestBound?: boolean;
  /**
   * DejaVu Sans for list PDFs' text outside Latin-1 (loaded from node_modules on Node, bundled on
   * Workers). Absent: every string prints in Helvetica, as lists did before.
   */
  listFonts?: ListFonts | null | undefined;
}
