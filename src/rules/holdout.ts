import { sql, type RawBuilder } from 'kysely';
import { md5Hex } from '../lib/md5.ts';

/**
 * The deterministic control group of a campaign. A member is held out of campaign C when
 *
 *   h = first 32 bits of md5("C:memberId")  <  ⌊percent / 100 · 2³²⌋
 *
 * so the split needs no stored state, is the same on every run, runtime and database (SQL's md5()
 * gives the same bits: `holdoutSql`), and is independent between campaigns (a different campaign
 * id gives unrelated bits, so no member is always the one held out). Offer assignment (issue 7)
 * and the preview use exactly these two functions.
 */
export function holdoutThreshold(percent: number): number {
  if (!(percent >= 0 && percent <= 100)) throw new RangeError(`holdout percent must be 0–100: ${percent}`);
  return Math.floor((percent / 100) * 2 ** 32);
}

/** The 32-bit bucket of a member within a campaign (0 … 2³² − 1). */
export function holdoutBucket(campaignId: string, memberId: number): number {
  return Number.parseInt(md5Hex(`${campaignId}:${memberId}`).slice(0, 8), 16);
}

/** True when the member belongs to the campaign's control group (gets no offer from it). */
export function inHoldout(campaignId: string, memberId: number, percent: number): boolean {
  return holdoutBucket(campaignId, memberId) < holdoutThreshold(percent);
}

/** `inHoldout` as a SQL boolean expression over a member id column; parameters only. */
export function holdoutSql(campaignId: string, memberId: RawBuilder<unknown>, percent: number) {
  return sql<boolean>`(('x' || substr(md5(${campaignId}::text || ':' || (${memberId})::text), 1, 8))::bit(32)::bigint < ${holdoutThreshold(percent)}::bigint)`;
}
