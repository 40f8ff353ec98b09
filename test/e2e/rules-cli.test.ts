import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCadence, useProcessDatabase } from '../support/cli.ts';
import { databaseUrl } from '../support/db.ts';
import { freePort } from '../support/net.ts';
import { spawnServer } from '../support/server.ts';

const root = join(import.meta.dirname, '..', '..');
const { dir, env } = useProcessDatabase('cadence-rules-cli-');

const cadence = (...args: string[]) => runCadence({ CHAIN_TIME_ZONE: 'America/New_York', ...env() }, ...args);

beforeAll(async () => {
  const loaded = await cadence('sim', 'generate', '--members', '200', '--stores', '2', '--weeks', '26', '--seed', '3', '--end', '2026-10-30');
  expect(loaded.code, loaded.stderr).toBe(0);
  const analysed = await cadence('analyse', '--at', '2026-10-31');
  expect(analysed.code, analysed.stderr).toBe(0);
  cpSync(join(root, 'rules'), join(dir, 'rules'), { recursive: true });
}, 300_000);

describe('cadence rules check', () => {
  it('validates the shipped rules, previews every campaign in 80 columns and exits 0', async () => {
    const res = await cadence('rules', 'check');
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('ok: 14 rule files valid, 8 campaigns previewed');
    expect(res.stdout).toMatch(/^cell +reached held out +offers +redeem +cost +vendor$/m);
    expect(res.stdout).toMatch(/^national\/high +\d+ +\d+ +\d+ +\d+\.\d +\$[\d,.]+ +\$[\d,.]+$/m);
    for (const line of res.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  }, 60_000);

  it('previews one file when given one', async () => {
    const res = await cadence('rules', 'check', 'rules/campaigns/relievo-keep-switchers.yaml');
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('relievo-keep-switchers');
    expect(res.stdout).toContain('meridian funds 75%');
    expect(res.stdout).toContain('1 campaign previewed');
  }, 60_000);

  it('exits 1 naming file, line, column and field of a broken file', async () => {
    const file = join(dir, 'rules', 'campaigns', 'pet-food-owners.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('    high: 250', '    hihg: 250'));
    const res = await cadence('rules', 'check', join(dir, 'rules'));
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`${file}:16:5 offer.ladder.hihg: unknown key; did you mean 'high'?`);
    expect(res.stdout).toContain(`${file}:13:3 offer.ladder.high: required`);
    writeFileSync(file, good.replace('categories: [dog_food, cat_food]', 'categories: [dog_food, cat_fod]'));
    const refs = await cadence('rules', 'check', file);
    expect(refs.code).toBe(1);
    expect(refs.stdout).toContain(`${file}:8:26 promotes.categories[1]: unknown category cat_fod; did you mean cat_food?`);
    writeFileSync(file, good);
    expect((await cadence('rules', 'check', join(dir, 'nowhere'))).code).toBe(1);
  }, 60_000);

  it('refuses to build lists from rules that name what the catalogue does not have, as the server does', async () => {
    const file = join(dir, 'rules', 'campaigns', 'pet-food-owners.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('categories: [dog_food, cat_food]', 'categories: [dog_food, cat_fod]'));
    try {
      const res = await runCadence({ CHAIN_TIME_ZONE: 'America/New_York', ...env(), RULES_DIR: join(dir, 'rules') },
        'lists', 'run', '--period', '2026-11-02');
      expect(res.code, res.stdout + res.stderr).toBe(1);
      expect(res.stderr).toContain(`${file}:8:26 promotes.categories[1]: unknown category cat_fod; did you mean cat_food?`);
    } finally {
      writeFileSync(file, good);
    }
  }, 60_000);

  it('the server refuses to start on them too: file, line and field, exit 1, the database closed and the folder released', async () => {
    const file = join(dir, 'rules', 'campaigns', 'pet-food-owners.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('categories: [dog_food, cat_food]', 'categories: [dog_food, cat_fod]'));
    try {
      const server = spawnServer({ ...env(), RULES_DIR: join(dir, 'rules'), PORT: String(await freePort()), DEMO: 'off' });
      const { code } = await server.exited;
      expect(code, server.log()).toBe(1);
      expect(server.log()).toContain(`${file}:8:26 promotes.categories[1]: unknown category cat_fod; did you mean cat_food?`);
      expect(server.log()).not.toContain('Cadence is running');
      if (!databaseUrl) expect(existsSync(join(dir, 'data', 'cadence.lock'))).toBe(false);
    } finally {
      writeFileSync(file, good);
    }
  }, 60_000);

  it.skipIf(!!databaseUrl)('exits 2 after checking the files alone when the server owns the data folder', async () => {
    const lock = join(dir, 'data', 'cadence.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, owner: 'server', url: 'http://127.0.0.1:3000', startedAt: new Date().toISOString() }));
    try {
      const res = await cadence('rules', 'check');
      expect(res.code).toBe(2);
      expect(res.stdout).toContain('14 rule files valid; catalogue references and the preview not checked');
      expect(res.stdout).toContain('POST /v1/rules/preview');
    } finally {
      rmSync(lock, { force: true });
    }
  }, 60_000);
});
