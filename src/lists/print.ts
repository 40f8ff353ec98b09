import { sql } from 'kysely';
import type { Db } from '../db/index.ts';
import type { Settings } from '../rules/settings.ts';
import type { ContentChoice } from './compose.ts';
import { composeList, type ComposeOptions } from './compose.ts';
import type { ListDocumentInput } from './document.ts';

export function composeOptions(settings: Settings, content: readonly ContentChoice[]): ComposeOptions {
  const l = settings.lists;
  return {
    branding: { chainName: l.branding.chainName, tagline: l.branding.tagline || null, color: l.branding.color },
    companyPrefix: l.couponCompanyPrefix,
    content,
  };
}

/** Ids of the live lists of a store and period, in member-number order (the print order). */
export async function storeListIds(db: Db, storeId: number, periodStart: string): Promise<number[]> {
  const rows = await db
    .selectFrom('lists')
    .innerJoin('members', 'members.id', 'lists.member_id')
    .select('lists.id')
    .where('lists.store_id', '=', storeId)
    .where('lists.period_start', '=', periodStart)
    .where('lists.voided_at', 'is', null)
    .orderBy(sql`members.member_number collate "C"`)
    .orderBy('lists.id')
    .execute();
  return rows.map((r) => r.id);
}

/** The documents of a print batch, composed one at a time as the PDF asks for them. */
export async function* printBatchDocuments(
  db: Db,
  ids: readonly number[],
  opts: ComposeOptions,
): AsyncGenerator<ListDocumentInput> {
  for (const id of ids) yield await composeList(db, id, opts);
}
