import type { Deps } from '../deps.ts';
import { addDays } from '../analytics/cells.ts';
import { localDate } from '../lib/time.ts';
import { runListPeriod, type ListPeriodSummary } from '../lists/period.ts';
import { campaignSpec } from '../offers/from-rules.ts';
import { sha256Hex } from '../lib/hash.ts';
import { WEEKDAYS, type Weekday } from '../rules/settings.ts';

/**
 * The list period grid: periods of `periodDays` starting on `weekday`, counted from the first such
 * weekday of 2026. Returns the start of the period holding `date`.
 */
export function periodStartOn(date: string, periodDays: number, weekday: Weekday): string {
  // 2026-01-05 is a Monday.
  const anchor = addDays('2026-01-05', WEEKDAYS.indexOf(weekday));
  const days = Math.round((Date.parse(date) - Date.parse(anchor)) / 86_400_000);
  const k = Math.floor(days / periodDays);
  return addDays(anchor, k * periodDays);
}

export interface ListsJobOptions {
  /** First day of the period; default the period holding today. */
  periodStart?: string;
  regenerate?: boolean;
}

/** The list period job with the live rules: what the schedule, the CLI and the API run. */
export async function runListsJob(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'rules' | 'logger'>,
  opts: ListsJobOptions = {},
): Promise<ListPeriodSummary> {
  const rules = deps.rules.current();
  const l = rules.settings.lists;
  const now = deps.clock.now();
  const today = localDate(now, deps.config.CHAIN_TIME_ZONE);
  const periodStart = opts.periodStart ?? periodStartOn(today, l.periodDays, l.weekday);
  const rulesHash = await sha256Hex(
    rules.files.map((f) => `${f.path}:${f.hash}`).sort().join('\n') || 'defaults',
  );
  const summary = await runListPeriod(deps.db, {
    periodStart,
    periodDays: l.periodDays,
    maxOffers: l.maxOffers,
    dueSoon: l.dueSoonItems,
    campaigns: rules.campaigns.map(campaignSpec),
    rulesHash,
    timeZone: deps.config.CHAIN_TIME_ZONE,
    rewardRateWeeks: rules.settings.qualification.weeks,
    refuseOverlap: true,
    now,
    ...(opts.regenerate ? { regenerate: true } : {}),
  });
  deps.logger.info('list period done', {
    periodStart: summary.periodStart,
    built: summary.built,
    lists: summary.lists,
    offers: summary.offers,
    controls: summary.controls,
  });
  return summary;
}
