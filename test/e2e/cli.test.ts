import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { runCadence, useProcessDatabase } from '../support/cli.ts';
import { databaseUrl } from '../support/db.ts';
import { gtin13 } from '../support/factories.ts';
import { migrations } from '../../migrations/index.ts';

const { dir, env } = useProcessDatabase('cadence-cli-');

const cadence = (...args: string[]) => runCadence(env(), ...args);

describe('cadence CLI', () => {
  // `migrate` said only "schema is up to date" even when it had just created the whole schema; an
  // operator upgrading wants to see what changed. On an empty database of its own (the file's
  // PostgreSQL database comes migrated; a new PGlite folder beside it).
  it('migrate names the migrations it applies, and then that there is nothing to apply', async () => {
    let target: Record<string, string> = { DATA_DIR: join(dir, 'migrate-data') };
    let drop = async () => {};
    if (databaseUrl) {
      const name = `cadence_migrate_${process.pid}`;
      const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${name}`);
      await admin.unsafe(`create database ${name}`);
      const url = new URL(databaseUrl);
      url.pathname = `/${name}`;
      target = { DATABASE_URL: url.toString() };
      drop = async () => {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      };
    }
    try {
      const first = await runCadence(target, 'migrate');
      expect(first.code, first.stderr).toBe(0);
      const applied = first.stdout.split('\n').filter((l) => l.startsWith('applied ')).map((l) => l.slice('applied '.length));
      expect(applied).toEqual(Object.keys(migrations));
      expect(first.stdout).toContain(`schema is up to date (${applied.length} migrations applied)`);
      const again = await runCadence(target, 'migrate');
      expect(again.stdout.trim()).toBe('schema is up to date (nothing to apply)');
    } finally {
      await drop();
    }
  });

  it('imports a basket file, writes rejected rows beside it, and re-imports nothing', async () => {
    const file = join(dir, 'history.csv');
    writeFileSync(
      file,
      [
        'member_id,basket_id,ts,gtin,qty',
        `M1,b1,2026-01-05,${gtin13(1)},1`,
        `M1,b1,2026-01-05,${gtin13(2)},2`,
        `M2,b2,2026-01-06 09:30,4006381333932,1`,
        `M2,b3,2026-01-06 09:30,${gtin13(1)},two`,
      ].join('\n'),
    );
    const first = await cadence('import', 'baskets', file);
    expect(first.stdout).toContain('4 rows, 2 imported, 2 rejected, 1 baskets created');
    expect(first.code).toBe(2);
    const errors = readFileSync(join(dir, 'history.errors.csv'), 'utf8').trim().split('\n');
    expect(errors[0]).toBe('line,field,reason,row');
    expect(errors[1]).toBe('4,gtin,bad check digit: expected 1,"M2,b2,2026-01-06 09:30,4006381333932,1"');
    expect(errors[2]).toMatch(/^5,qty,/);

    const again = await cadence('import', 'baskets', file);
    expect(again.stdout).toContain('0 baskets created, 1 already stored');
  });

  it('names the file and the missing column when the header is wrong', async () => {
    const file = join(dir, 'bad-header.csv');
    writeFileSync(file, 'member,when,what\nM1,2026-01-01,x\n');
    const res = await cadence('import', 'baskets', file);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${file}:1: missing column txn; missing column ts; missing column gtin; missing column qty`);
  });

  it('names the file and line of a quoted field that never ends', async () => {
    const file = join(dir, 'unterminated.csv');
    writeFileSync(file, `member_id,basket_id,ts,gtin,qty\nM1,"b1,2026-01-05 10:00,96385074,1\n${'M1,b2,2026-01-05 10:00,96385074,1\n'.repeat(40_000)}`);
    const res = await cadence('import', 'baskets', file);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${file}:2: a quoted field runs on`);
  });

  it('creates an API key, shown once', async () => {
    const res = await cadence('keys', 'create', '--role', 'admin', '--name', 'ops');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/key \(shown once, only its hash is stored\): cad_[a-z2-7]{32}/);
    const list = await cadence('keys', 'list');
    expect(list.stdout).toMatch(/admin\tcad_/);
    expect(list.stdout).not.toMatch(/cad_[a-z2-7]{32}/);
  });

  it('names the flag or file of a bad option, stores nothing, and never dumps a database error or a stack', async () => {
    const history = join(dir, 'empty-history.csv');
    writeFileSync(history, 'member_id,basket_id,ts,gtin,qty\n');
    const cases: [string[], string][] = [
      [['import', 'baskets', history, '--batch', '0'], '--batch must be a whole number from 1 to 1000000, not 0'],
      [['import', 'baskets', history, '--time-zone', 'Mars/Olympus'], '--time-zone must be an IANA time zone (e.g. America/New_York), not Mars/Olympus'],
      [['import', 'baskets', dir], `${dir}: is a folder`],
      [['predict', '--at', '2026-10-01', '--out', join(dir, 'missing', 'p.csv')], `${join(dir, 'missing', 'p.csv')}: no such folder`],
      [['sim', 'generate', '--end', '2026-02-30', '--out', join(dir, 's.csv')], '--end must be a date YYYY-MM-DD from 1900-01-01 to 9999-01-01, not 2026-02-30'],
      [['sim', 'generate', '--weeks', '100000', '--out', join(dir, 's.csv')], '--weeks must be a whole number from 1 to 520, not 100000'],
      [['keys', 'create', '--role', 'pos', '--store', '99999999999'], '--store must be a whole number from 1 to 2147483647, not 99999999999'],
      [['keys', 'create', '--role', 'pos', '--store', 'abc'], '--store must be a whole number from 1 to 2147483647, not abc'],
      [['keys', 'create', '--role', 'pos'], '--store: a pos key needs a storeId'],
      [['keys', 'create', '--role', 'marketer', '--store', '1'], '--store: only pos keys have a storeId'],
      [['keys', 'create', '--role', 'vendor', '--manufacturer', ''], '--manufacturer: '],
      [['keys', 'create', '--role', 'admin', '--name', ''], '--name: '],
      [['keys', 'create', '--role', 'root'], 'keys create needs --role admin|marketer|vendor|pos'],
      [['keys', 'revoke', '99999999999999999999'], "keys revoke takes a key's number (see keys list), not 99999999999999999999"],
      [['keys', 'revoke', '1e3'], "keys revoke takes a key's number (see keys list), not 1e3"],
      [['lists', 'print', '--store', '3000000000', '--period', '2026-11-02', '--out', join(dir, 'x.pdf')], '--store must be a whole number from 1 to 2147483647'],
      [['sim', 'run', '--weeks', '-3'], "Option '--weeks' argument is ambiguous"],
      [['analyse', '--bogus'], "Unknown option '--bogus'"],
    ];
    const keysBefore = (await cadence('keys', 'list')).stdout;
    for (const [args, message] of cases) {
      const res = await cadence(...args);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr, args.join(' ')).toContain(`cadence: ${message}`);
      expect(res.stderr, args.join(' ')).not.toMatch(/^\s+at |severity|code: '/m);
    }
    expect((await cadence('keys', 'list')).stdout).toBe(keysBefore);
  }, 180_000); // some 20 CLI processes one after another: 15–38 s alone, past 60 s on a loaded machine

  it.runIf(!databaseUrl)('refuses to open a data folder the server holds', async () => {
    writeFileSync(
      join(env().DATA_DIR!, 'cadence.lock'),
      JSON.stringify({ pid: process.pid, owner: 'server', url: 'http://127.0.0.1:3000', startedAt: new Date(0).toISOString() }),
    );
    const res = await cadence('keys', 'list');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('the server is running on this data folder');
    rmSync(join(env().DATA_DIR!, 'cadence.lock'));
    expect(existsSync(join(env().DATA_DIR!, 'cadence.lock'))).toBe(false);
  });
});
