import { sql, type Kysely } from 'kysely';

/**
 * The offer file's change cursor. Offers and members carry the id of the transaction that last
 * wrote them (`changed_xid`, 64-bit, never wraps), set on insert by the default and on update by a
 * trigger, whoever writes. A lane passes back the cursor of its last file (the oldest transaction
 * still running when that file was read) and gets every offer written by that transaction or a
 * later one: with no clock involved, a change committed after the file was read can never fall
 * before the cursor (the `since` instant could: rows are stamped when their transaction starts,
 * with the writer's clock).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create function cadence_stamp_change() returns trigger language plpgsql as $$
    begin
      new.changed_xid := pg_current_xact_id();
      return new;
    end $$`.execute(db);
  for (const table of ['offers', 'members']) {
    await sql`alter table ${sql.table(table)} add column changed_xid xid8 not null default pg_current_xact_id()`.execute(db);
    await sql`create trigger ${sql.id(`${table}_changed`)} before update on ${sql.table(table)}
      for each row execute function cadence_stamp_change()`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['offers', 'members']) {
    await sql`drop trigger ${sql.id(`${table}_changed`)} on ${sql.table(table)}`.execute(db);
    await sql`alter table ${sql.table(table)} drop column changed_xid`.execute(db);
  }
  await sql`drop function cadence_stamp_change()`.execute(db);
}
