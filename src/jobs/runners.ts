import type { Deps } from '../deps.ts';
import { AnalyseRunner } from './analyse.ts';

const runners = new WeakMap<Deps['db'], AnalyseRunner>();

/** The one analyse runner per database handle, shared by the schedule, the CLI and the API. */
export function analyseRunnerFor(deps: Pick<Deps, 'db' | 'logger'>): AnalyseRunner {
  let r = runners.get(deps.db);
  if (!r) {
    r = new AnalyseRunner(deps);
    runners.set(deps.db, r);
  }
  return r;
}
