import { sql, type Kysely } from 'kysely';

/**
 * A return is keyed by its own (store, terminal, txn), like every POS transaction, but
 * returned_units recorded only its txn id: two terminals returning units of the same sale under the
 * same txn id (each terminal counts its own) broke returned_units_pk, a 500. The return's store and
 * terminal join the key. Rows written before: the terminal of the return commit with that txn id
 * (several terminals can only have used it for different sales, so any keeps the key unique), else
 * the sale's own.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table returned_units add column return_store_id integer, add column return_terminal_id text`.execute(db);
  await sql`update returned_units r set return_store_id = c.store_id, return_terminal_id = c.terminal_id
    from checkout_commits c where c.kind in ('return', 'void') and c.txn_id = r.return_txn_id`.execute(db);
  await sql`update returned_units set return_store_id = store_id, return_terminal_id = terminal_id
    where return_store_id is null`.execute(db);
  await sql`alter table returned_units
    alter column return_store_id set not null, alter column return_terminal_id set not null,
    drop constraint returned_units_pk,
    add constraint returned_units_pk primary key
      (store_id, terminal_id, txn_id, line_no, return_store_id, return_terminal_id, return_txn_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table returned_units drop constraint returned_units_pk,
    drop column return_store_id, drop column return_terminal_id,
    add constraint returned_units_pk primary key (store_id, terminal_id, txn_id, line_no, return_txn_id)`.execute(db);
}
