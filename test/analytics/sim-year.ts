import { beforeAll } from 'vitest';
import { generateChain, loadSimChain, type SimChain, type SimOptions } from '../../src/sim/index.ts';
import { useTestDeps, type TestDeps } from '../support/db.ts';

/**
 * The simulated year that the cells, member-score and traits tests measure against: seed 2026,
 * 600 members, 4 stores, 52 weeks ending 2026-10-31 (their comments quote figures for it and for
 * seeds 5 and 77), analysed as of the New York midnight after its last day.
 */
export const SIM_YEAR: SimOptions = { seed: 2026, members: 600, stores: 4, weeks: 52, endDate: '2026-10-31' };
export const NY = 'America/New_York';
/** Midnight after the last simulated day: the whole history is before it. */
export const AS_OF = new Date('2026-11-01T04:00:00Z');

/**
 * A fresh database for this test file with the simulated year loaded, then `analyse` run on it
 * (in beforeAll). Returns the deps getter and the generated chain (its ground truth).
 */
export function useSimYear(analyse: (deps: TestDeps) => Promise<unknown>): { getDeps: () => TestDeps; chain: SimChain } {
  const getDeps = useTestDeps();
  const chain = generateChain(SIM_YEAR);
  beforeAll(async () => {
    await loadSimChain(getDeps(), chain);
    await analyse(getDeps());
  });
  return { getDeps, chain };
}
