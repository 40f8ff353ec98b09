import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCadence, useProcessDatabase } from '../support/cli.ts';
import { databaseUrl } from '../support/db.ts';
import { gtin13 } from '../support/factories.ts';

const { dir, env } = useProcessDatabase('cadence-cli-');

const cadence = (...args: string[]) => runCadence(env(), ...args);

describe('cadence CLI', () => {
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

  it('creates an API key, shown once', async () => {
    const res = await cadence('keys', 'create', '--role', 'admin', '--name', 'ops');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/key \(shown once, only its hash is stored\): cad_[a-z2-7]{32}/);
    const list = await cadence('keys', 'list');
    expect(list.stdout).toMatch(/admin\tcad_/);
    expect(list.stdout).not.toMatch(/cad_[a-z2-7]{32}/);
  });

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
