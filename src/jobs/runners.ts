import type { Deps } from '../deps.ts';
import type { JobTrigger } from '../db/index.ts';
import { AnalyseRunner } from './analyse.ts';
import { ListsRunner, type ListsJobOptions, type RunningLists } from './lists.ts';

const analyseRunners = new WeakMap<Deps['db'], AnalyseRunner>();
const listsRunners = new WeakMap<Deps['db'], ListsRunner>();

/** The one analyse runner per database handle, shared by the schedule, the CLI and the API. */
export function analyseRunnerFor(deps: Pick<Deps, 'db' | 'logger'>): AnalyseRunner {
  let r = analyseRunners.get(deps.db);
  if (!r) {
    r = new AnalyseRunner(deps);
    analyseRunners.set(deps.db, r);
  }
  return r;
}

/** The one list period runner per database handle, shared by the schedule, the CLI and the API. */
export function listsRunnerFor(deps: Pick<Deps, 'db' | 'logger'>): ListsRunner {
  let r = listsRunners.get(deps.db);
  if (!r) {
    r = new ListsRunner({ db: deps.db, logger: deps.logger });
    listsRunners.set(deps.db, r);
  }
  return r;
}

/**
 * Starts a list period run now with the live rules (today: the clock's, in the chain's time
 * zone); null while another list run goes on in this process.
 */
export function startListsRun(
  deps: Pick<Deps, 'db' | 'logger' | 'clock' | 'config' | 'rules'>,
  trigger: JobTrigger,
  opts: Pick<ListsJobOptions, 'periodStart' | 'regenerate'> = {},
): RunningLists | null {
  return listsRunnerFor(deps).start(listsRunOptions(deps, opts), trigger);
}

/** A list run's options now, with the live rules. */
export function listsRunOptions(
  deps: Pick<Deps, 'clock' | 'config' | 'rules'>,
  opts: Pick<ListsJobOptions, 'periodStart' | 'regenerate'> = {},
): ListsJobOptions {
  return { at: deps.clock.now(), timeZone: deps.config.CHAIN_TIME_ZONE, rules: deps.rules.current(), ...opts };
}
