import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/index.ts';
import { cryptoIds } from '../../src/lib/ids.ts';
import { parseListBarcode } from '../../src/lists/barcodes.ts';
import { readRuleFiles } from '../../src/rules/node.ts';
import { parseRuleSet, type RuleFileText } from '../../src/rules/rule-set.ts';
import { runCadence } from '../support/cli.ts';
import { databaseUrl, freshDatabase } from '../support/db.ts';
import { basket } from '../support/factories.ts';
import { decode, pageCount, pageTexts, rasterize } from '../lists/decode.ts';
import { freePort } from '../support/net.ts';

/**
 * The edge entry (src/worker.ts) as it deploys: `cadence rules bundle` (the build step in
 * wrangler.toml) and, against real PostgreSQL, `wrangler dev` serving the worker under workerd.
 */

const root = join(import.meta.dirname, '..', '..');
const rulesDir = join(root, 'rules');

/** rules/ as the Node server reads it (RULES_DIR=./rules: messages and offers say `rules/…`). */
const shippedRuleFiles = (dir = rulesDir): RuleFileText[] => readRuleFiles(dir).map(({ name, text }) => ({ name, text }));

async function nodeRuleHashes(files: readonly RuleFileText[]) {
  return (await parseRuleSet(files)).rules.files;
}

describe('rules bundled at deploy time', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cadence-bundle-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bundles the rules folder into a module the worker parses to the same files and hashes', async () => {
    const out = join(dir, 'rules.js');
    const r = await runCadence({}, 'rules', 'bundle', 'rules', '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const bundled = (await import(pathToFileURL(out).href)).default as RuleFileText[];
    const fromFolder = shippedRuleFiles();
    expect(bundled.map((f) => f.name)).toEqual(fromFolder.map((f) => f.name));
    const hashes = await nodeRuleHashes(bundled);
    expect(hashes).toEqual(await nodeRuleHashes(fromFolder));
    expect(hashes.some((f) => f.path.startsWith('rules/campaigns/'))).toBe(true);
  });

  it('refuses a broken rules folder with file, line and field, and writes nothing', async () => {
    const broken = join(dir, 'broken');
    cpSync(rulesDir, broken, { recursive: true });
    const file = join(broken, 'campaigns', 'analgesic-store-brand.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^holdout_percent:.*$/m, 'holdout_percent: 70'));
    const out = join(dir, 'broken.js');
    const r = await runCadence({}, 'rules', 'bundle', broken, '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/campaigns\/analgesic-store-brand\.yaml:\d+:\d+ holdout_percent: /);
    expect(existsSync(out)).toBe(false);
  });

  it('asks for --out', async () => {
    const r = await runCadence({}, 'rules', 'bundle');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--out/);
  });
});

describe('the worker bundle', () => {
  it("carries the lists' DejaVu Sans as Data modules (wrangler.toml [[rules]])", () => {
    const out = mkdtempSync(join(tmpdir(), 'cadence-worker-build-'));
    try {
      execFileSync(join(root, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', out], {
        cwd: root,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' },
        stdio: 'pipe',
      });
      const files = readdirSync(out);
      const size = (name: string) => readFileSync(join(root, 'node_modules', 'dejavu-fonts-ttf', 'ttf', name)).byteLength;
      for (const font of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
        const bundled = files.find((f) => f.endsWith(`-${font}`));
        expect(bundled, font).toBeDefined();
        expect(readFileSync(join(out, bundled!)).byteLength).toBe(size(font));
        expect(readFileSync(join(out, 'worker.js'), 'utf8')).toContain(bundled);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});

/** `wrangler dev` on a free port, resolved once it serves; the child runs in its own process group. */
async function wranglerDev(vars: Record<string, string>): Promise<{ base: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort())];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const child = spawn(join(root, 'node_modules', '.bin', 'wrangler'), args, {
    cwd: root,
    detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${out}`);
    if (/Ready on/.test(out)) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) return { base, child, output: () => out };
      } catch {
        // not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`wrangler dev did not start:\n${out}`);
}

describe.skipIf(!databaseUrl)('the worker under wrangler dev (real PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let dev: Awaited<ReturnType<typeof wranglerDev>>;
  let admin: string;
  let pos: string;

  beforeAll(async () => {
    database = await freshDatabase();
    const url = database.url!;
    // A small simulated chain whose baskets end today, so the edge's own cron runs have work.
    const sim = await runCadence({ DATABASE_URL: url }, 'sim', 'generate', '--members', '80', '--stores', '2', '--weeks', '16', '--seed', '11');
    expect(sim.code, sim.stderr).toBe(0);
    const deps = { db: database.db, ids: cryptoIds };
    admin = (await createApiKey(deps, { name: 'edge admin', role: 'admin' })).key;
    pos = (await createApiKey(deps, { name: 'edge pos', role: 'pos', storeId: 1 })).key;
    dev = await wranglerDev({ DATABASE_URL: url, LOG_LEVEL: 'warn' });
  }, 240_000);

  afterAll(async () => {
    if (dev?.child.pid) process.kill(-dev.child.pid, 'SIGTERM');
    await database?.dispose();
  });

  const call = (path: string, key: string | null, init: RequestInit = {}) =>
    fetch(`${dev.base}${path}`, {
      ...init,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json', ...init.headers },
    });

  it('reaches the database and serves the API docs', async () => {
    expect(await (await call('/readyz', null)).json()).toEqual({ status: 'ready', database: 'ok' });
    const doc = (await (await call('/openapi.json', null)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/v1/rules');
  });

  it('serves the rules bundled at deploy time, with the hashes of the files in rules/', async () => {
    const res = await call('/v1/rules', admin);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { campaigns: { file: string; hash: string }[] };
    const expected = (await nodeRuleHashes(shippedRuleFiles())).filter((f) => f.path.startsWith('rules/campaigns/'));
    expect(body.campaigns.map((c) => ({ path: c.file, hash: c.hash }))).toEqual(expected);
    const status = (await (await call('/v1/rules/status', admin)).json()) as { lastError: unknown; files: unknown[] };
    expect(status.lastError).toBeNull();
    expect(status.files).toEqual(await nodeRuleHashes(shippedRuleFiles()));
  });

  it('enforces keys and roles', async () => {
    expect((await call('/v1/rules', null)).status).toBe(401);
    expect((await call('/v1/rules', pos)).status).toBe(403);
  });

  it('ingests a basket once, however often the lane retries it', async () => {
    const b = basket({ txnId: 'edge-1' });
    const post = () => call('/v1/baskets', pos, { method: 'POST', body: JSON.stringify({ baskets: [b] }) });
    const first = (await (await post()).json()) as {
      results: { basketId: number; status: string }[];
    };
    const again = (await (await post()).json()) as typeof first;
    expect(first.results[0]!.status).toBe('created');
    expect(again.results[0]).toMatchObject({ basketId: first.results[0]!.basketId, status: 'duplicate' });
    const stored = await database.db.selectFrom('baskets').select('id').where('txn_id', '=', 'edge-1').execute();
    expect(stored).toHaveLength(1);
  });

  it('gives each of many concurrent requests its own database client', async () => {
    // Workers refuse I/O on a socket another request opened: a client shared across requests fails here.
    const posts = Array.from({ length: 16 }, (_, i) =>
      call('/v1/baskets', pos, { method: 'POST', body: JSON.stringify({ baskets: [basket({ txnId: `edge-many-${i}` })] }) }),
    );
    const statuses = await Promise.all(posts.map(async (p) => ((await (await p).json()) as { created: number }).created));
    expect(statuses).toEqual(Array(16).fill(1));
    const stored = await database.db.selectFrom('baskets').select('id').where('txn_id', 'like', 'edge-many-%').execute();
    expect(stored).toHaveLength(16);
  });

  it('runs the nightly analytics and the list period from its Cron Triggers, then serves a list PDF', async () => {
    const cron = (expr: string) => fetch(`${dev.base}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(expr)}`);
    expect((await cron('30 7 * * *')).status).toBe(200);
    const snapshots = await database.db.selectFrom('analytics_snapshots').select('component').execute();
    expect(snapshots.length).toBeGreaterThan(0);
    // recorded as the schedule's run, seen through the API
    const runs = (await (await call('/v1/jobs/analyse/runs', admin)).json()) as { runs: { trigger: string; status: string }[] };
    expect(runs.runs.map((r) => [r.trigger, r.status])).toEqual([['schedule', 'done']]);
    // no run left in the background of a request whose database client closes with it
    const detached = await call('/v1/jobs/analyse', admin, { method: 'POST', body: JSON.stringify({ wait: false }) });
    expect(detached.status).toBe(422);
    expect(((await detached.json()) as { issues: { path: string }[] }).issues[0]!.path).toBe('wait');
    expect((await cron('30 8 * * *')).status).toBe(200);
    const listRuns = (await (await call('/v1/jobs/lists/runs', admin)).json()) as { runs: { trigger: string; status: string }[] };
    expect(listRuns.runs.map((r) => [r.trigger, r.status])).toEqual([['schedule', 'done']]);
    const detachedLists = await call('/v1/jobs/lists', admin, { method: 'POST', body: JSON.stringify({ wait: false }) });
    expect(detachedLists.status).toBe(422);
    expect(((await detachedLists.json()) as { issues: { path: string }[] }).issues[0]!.path).toBe('wait');
    const list = await database.db
      .selectFrom('lists')
      .innerJoin('members', 'members.id', 'lists.member_id')
      .select(['lists.id', 'members.member_number', 'lists.store_id'])
      .orderBy('lists.id')
      .executeTakeFirstOrThrow();
    // names outside Latin-1, printed in the DejaVu Sans the worker bundles
    await sql`update stores set name = 'Sklep – Łódź' where id = ${list.store_id}`.execute(database.db);
    await sql`update products set name = 'Żubrówka Ελληνικό γιαούρτι Кефир'
      where gtin = (select (content->'dueSoon'->0->>'gtin')::char(14) from lists where id = ${list.id})`.execute(database.db);
    const res = await call(`/v1/members/${list.member_number}/lists/current.pdf`, admin);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/pdf/);
    // Rendered by PDFKit under workerd; its list barcode read back by an independent decoder.
    const pdf = new Uint8Array(await res.arrayBuffer());
    expect(pageCount(pdf)).toBeGreaterThan(0);
    const serials = (await decode(rasterize(pdf, 200, [0])[0]!))
      .map((d) => parseListBarcode(d.text))
      .flatMap((p) => (p.ok ? [p.serial] : []));
    expect(serials.map(Number)).toEqual([list.id]);
    const text = pageTexts(pdf).join('\n');
    expect(text).toContain('Sklep – Łódź');
    expect(text).toContain('Żubrówka Ελληνικό γιαούρτι Кефир');
  }, 240_000);
});
