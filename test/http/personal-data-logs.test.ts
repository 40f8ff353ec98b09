import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { jsonLogger } from '../../src/lib/logger.ts';
import { useTestDeps } from '../support/db.ts';
import { appWithKeys, seedCatalogue } from '../support/factories.ts';

// Logs leave the building (log shipping, support tickets): whatever a request carries — names,
// e-mail, phone, card and member numbers, the API key — must not reach them, not even when the
// database refuses the request with an error quoting the value (PostgreSQL's messages do:
// `invalid input syntax for type integer: "…"`, `value "…" is out of range …`).

const lines: string[] = [];
const getDeps = useTestDeps({ logger: jsonLogger('debug', (line) => lines.push(line)) });
let api: Awaited<ReturnType<typeof appWithKeys>>;

const person = {
  memberNumber: 'M-778812',
  cardNumber: '4990012345678',
  contact: { firstName: 'Philippa', lastName: 'Quenneville', email: 'philippa.q@example.org', phone: '+1 555 0134 889', postalCode: 'K1A0B1' },
};
const secrets = [person.memberNumber, person.cardNumber, ...Object.values(person.contact)];

beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
  // A database error that quotes the row's values, as PostgreSQL's own errors quote the input.
  await sql`create function refuse_contact() returns trigger language plpgsql as $$
    begin
      raise exception using errcode = '22P02', message = format(
        'invalid input syntax for type integer: "%s" (member ''%s'', card "%s", name "%s %s", phone "%s")',
        new.email,
        (select member_number from members where id = new.member_id),
        (select card_number from members where id = new.member_id),
        new.first_name, new.last_name, new.phone);
    end $$`.execute(getDeps().db);
  await sql`create trigger refuse_contact before insert on member_contacts
    for each row execute function refuse_contact()`.execute(getDeps().db);
});

describe('personal data in logs', () => {
  it('a 500 logs the request id and route, never the personal data the error quotes, nor the key', async () => {
    lines.length = 0;
    const res = await api.call('PUT', '/v1/members', api.keys.admin, { members: [person] });
    expect(res.status).toBe(500);
    const body = await res.text();
    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const s of [...secrets, api.keys.admin]) {
      expect(log, `${s} in the log`).not.toContain(s);
      expect(body, `${s} in the 500 body`).not.toContain(s);
    }
    // Nor any part of the card or phone number long enough to identify it.
    // (the request id, a random UUID, may hold any digits)
    const errors = lines.map((l) => String((JSON.parse(l) as { error?: unknown }).error ?? ''));
    expect(errors.join('\n')).not.toMatch(/\d{6,}/);
    // What the operator needs to find the cause: request id, route, SQLSTATE.
    const entry = JSON.parse(lines.find((l) => l.includes('unhandled error'))!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'error', route: '/v1/members', method: 'PUT', code: '22P02' });
    expect(entry.requestId).toBe(JSON.parse(body).requestId);
    expect(entry.error).toContain('invalid input syntax for type integer');
  });
});

describe('redact', () => {
  it('takes out quoted values, key values, e-mails and long numbers, keeping the rest', async () => {
    const { redact } = await import('../../src/lib/logger.ts');
    expect(redact('duplicate key value violates unique constraint "members_card_number_key"')).toBe(
      'duplicate key value violates unique constraint "…"',
    );
    expect(redact('Key (card_number)=(4990012345678) already exists; mail ada@example.com, call +1 555-0134 on lane 12')).toBe(
      'Key (card_number)=(…) already exists; mail …, call … on lane 12',
    );
  });
});
