/**
 * Ingest benchmark: the same basket CSV loaded three ways into the same PostgreSQL server, each
 * into its own fresh database:
 *
 *   \copy   psql `\copy` into a plain table with the CSV's columns, no indexes (the baseline)
 *   import  `node --import ./src/preload.mjs --import tsx src/cli.ts import baskets FILE` (what
 *           `npm run cadence` runs), a child process, timed whole
 *   http    `node --import ./src/preload.mjs --import tsx src/node.ts` (what `npm start` runs) as a child; POST /v1/baskets, 100 baskets a request, 4 clients
 *   lines   reference: psql `\copy` of the final basket_lines rows (member and basket ids already
 *           resolved) into a table of basket_lines' shape with its primary key: what storing the
 *           lines costs any path, before parsing, checking, baskets and idempotency; and the same
 *           rows by the app's COPY in chunks of --batch baskets, one statement per chunk (what
 *           storing the lines of that many POSTs costs, each COPY with its fixed cost)
 *
 * Targets: import ≥ 0.5× the \copy rate, HTTP ≥ 0.3×. Every method must land every line: the
 * bench fails when basket_lines disagrees with the CSV.
 *
 * Beside wall time it prints CPU seconds: of the client (psql, the import CLI, the HTTP server) and
 * of the PostgreSQL server (when it runs on this machine), read from /proc. On a busy machine wall
 * times swing by half; CPU seconds barely move, and tell which side bounds a method.
 *
 *   npm run bench -- ingest [--lines N] [--only copy,lines,import,http] [--batch 100] [--clients 4]
 *                           [--retries 0] [--keep]
 *
 * BENCH_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=.bench/prof") is passed to the timed children,
 * the import CLI and the server, for profiling.
 *
 * --retries N lets an HTTP client retry a request that answered 5xx (batches are idempotent);
 * retries are counted in the report. By default any non-200 fails the bench.
 *
 * Without DATABASE_URL it re-runs itself under `.ci/with-postgres` (a throwaway server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gtinCheckDigit } from '../../src/lib/gtin.ts';
import { rerunUnderPostgres } from './support.ts';
import { freePort } from '../support/net.ts';
import { seededRandom as rng } from '../support/random.ts';
import { NODE_FLAGS } from '../support/node-flags.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const benchDir = join(root, '.bench');
const GENERATOR_VERSION = 1;
const HEADER = 'card,txn,ts,store_id,terminal_id,gtin,qty,unit_price_cents,line_discount_cents';
const TARGETS = { import: 0.5, http: 0.3 } as const;
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);

class BenchFailure extends Error {
  override name = 'BenchFailure';
}
const fail = (message: string): never => {
  throw new BenchFailure(message);
};

// ---------------------------------------------------------------------------------------------
// The synthetic chain: 8 stores, ~2,000 card members, ~1,000 products.

const STORES = [
  { id: 1, name: 'Bench Downtown', timeZone: 'America/New_York' },
  { id: 2, name: 'Bench Riverside', timeZone: 'America/New_York' },
  { id: 3, name: 'Bench Hillcrest', timeZone: 'America/New_York' },
  { id: 4, name: 'Bench Lakeview', timeZone: 'America/Chicago' },
  { id: 5, name: 'Bench Prairie', timeZone: 'America/Chicago' },
  { id: 6, name: 'Bench Mesa', timeZone: 'America/Denver' },
  { id: 7, name: 'Bench Harbor', timeZone: 'America/Los_Angeles' },
  { id: 8, name: 'Bench Bayside', timeZone: 'America/Los_Angeles' },
];
const MEMBERS = 2_000;
const PRODUCTS = 1_000;
const TERMINALS = 6;


interface BenchProduct {
  gtin: string;
  priceCents: number;
  weighed: boolean;
}

function products(random: () => number): BenchProduct[] {
  return Array.from({ length: PRODUCTS }, (_, k) => {
    const body = `20${String(100_000_000 + k * 7_919).padStart(10, '0')}`; // 12 digits
    const weighed = random() < 0.1;
    return {
      gtin: `${body}${gtinCheckDigit(body)}`,
      weighed,
      priceCents: weighed ? 199 + Math.floor(random() * 1800) : 49 + Math.floor(random() * 1450),
    };
  });
}

/** The products as the chain's catalogue describes them (the CSV draws them first from the same seed). */
const benchCatalogue = () =>
  products(rng(0xcade2025)).map((p, k) => ({ gtin: p.gtin, name: `Bench product ${k + 1}`, priceCents: p.priceCents }));

const cardOf = (m: number) => `6034${String(m + 1).padStart(8, '0')}`;

/** `2025-03-09T14:05:12-04:00` for an instant, in the store's zone (DST-correct). */
function makeLocalIso() {
  const fmt = new Map<string, Intl.DateTimeFormat>();
  return (ms: number, timeZone: string) => {
    let f = fmt.get(timeZone);
    if (!f) {
      f = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
      fmt.set(timeZone, f);
    }
    const name = f.formatToParts(ms).find((p) => p.type === 'timeZoneName')!.value; // GMT-05:00
    const offset = name === 'GMT' ? '+00:00' : name.slice(3);
    const sign = offset[0] === '-' ? -1 : 1;
    const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
    const local = new Date(ms + minutes * 60_000).toISOString().slice(0, 19);
    return `${local}${offset}`;
  };
}

/** Writes exactly `lines` scan lines (baskets of 5–20 lines, adjacent) to `file`. */
function generateCsv(file: string, lines: number): { baskets: number } {
  const random = rng(0xcade2025);
  const catalogue = products(random);
  const localIso = makeLocalIso();
  const yearStart = Date.parse('2025-01-01T05:00:00Z');
  const yearMs = 365 * 86_400_000;
  const expectedBaskets = Math.max(1, Math.round(lines / 12.5));
  let written = 0;
  let basket = 0;
  writeChunked(file, (emit) => {
    emit(`${HEADER}\n`);
    while (written < lines) {
      const size = Math.min(5 + Math.floor(random() * 16), lines - written);
      const store = STORES[Math.floor(random() * STORES.length)]!;
      const terminal = `T${String(1 + Math.floor(random() * TERMINALS)).padStart(2, '0')}`;
      // Roughly time-ordered over the year, as exports from a POS are.
      const at = yearStart + Math.floor(((basket + random()) / expectedBaskets) * yearMs);
      const ts = localIso(Math.min(at, yearStart + yearMs - 1), store.timeZone);
      // 75% of baskets carry a card; frequent shoppers are more frequent.
      const card = random() < 0.75 ? cardOf(Math.floor(MEMBERS * random() ** 2)) : '';
      const txn = `${store.id}${terminal}-${String(basket + 1).padStart(9, '0')}`;
      for (let l = 0; l < size; l++) {
        const p = catalogue[Math.floor(PRODUCTS * random() ** 1.6)]!;
        let qty: string;
        if (p.weighed) qty = (0.1 + random() * 2.4).toFixed(3);
        else {
          const r = random();
          qty = r < 0.8 ? '1' : r < 0.95 ? '2' : String(3 + Math.floor(random() * 4));
        }
        const discount = random() < 0.08 ? Math.round(p.priceCents * Number(qty) * (0.1 + random() * 0.2)) : 0;
        emit(`${card},${txn},${ts},${store.id},${terminal},${p.gtin},${qty},${p.priceCents},${discount}\n`);
      }
      written += size;
      basket++;
    }
  });
  return { baskets: basket };
}

/** Writes `file` in 1 MB chunks through a temp file renamed into place once complete. */
function writeChunked(file: string, produce: (emit: (text: string) => void) => void): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let buffered = '';
  try {
    produce((text) => {
      buffered += text;
      if (buffered.length > 1 << 20) {
        writeSync(fd, buffered);
        buffered = '';
      }
    });
    writeSync(fd, buffered);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// Child processes: all tracked, all killed (whole process group) on exit or error.

const children = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* gone */
    }
  }
}

async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

let cleanupInstalled = false;
function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const c of children) killGroup(c, 'SIGKILL');
  });
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping children`);
      void Promise.all([...children].map((c) => stopChild(c, 2_000))).finally(() => process.exit(code));
    });
  }
}

interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command to completion in its own process group; `echo` streams its stderr through. */
function runChild(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; echo?: boolean } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, {
      cwd: root,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (opts.echo) {
        const shown = d.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
        if (shown.length) process.stderr.write(shown.map((l) => `    | ${l}\n`).join(''));
      }
    });
    child.on('error', (err) => {
      children.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, seconds: (performance.now() - start) / 1000 });
    });
  });
}

async function mustRun(what: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<ChildResult> {
  const r = await runChild(cmd, args, env ? { env } : {});
  if (r.code !== 0) fail(`${what} exited with ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL through psql.

function urlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function psql(url: string, command: string): Promise<string> {
  const r = await mustRun(`psql -c ${JSON.stringify(command.slice(0, 80))}`, 'psql', [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', command]);
  return r.stdout.trim();
}

async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  await psql(adminUrl, `drop database if exists ${name} with (force)`);
  await psql(adminUrl, `create database ${name}`);
  return urlFor(adminUrl, name);
}

async function count(url: string, table: string): Promise<number> {
  return Number(await psql(url, `select count(*) from ${table}`));
}

// ---------------------------------------------------------------------------------------------
// The three methods.

interface Measure {
  method: string;
  lines: number;
  seconds: number;
  /**
   * CPU seconds of the client side (psql, the CLI, the HTTP server) and of PostgreSQL; `load`: the
   * bench's own HTTP clients, which share the machine's cores.
   */
  cpu?: { client: number; postgres: number | null; load?: number };
  note?: string;
}

// ---------------------------------------------------------------------------------------------
// CPU seconds from /proc (Linux): a process's own and its waited-for children's.

const TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

/** utime, stime, cutime, cstime of a process in seconds, or null when it is gone. */
function procCpu(pid: number | 'self'): { own: number; children: number; ppid: number } | null {
  try {
    // fields after the `(comm)`: state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { own: (Number(f[11]) + Number(f[12])) / TICKS, children: (Number(f[13]) + Number(f[14])) / TICKS, ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

/** CPU of this bench's finished children (psql, the CLI): grows when one exits. */
const finishedChildrenCpu = () => procCpu('self')!.children;

/** CPU of a live process and all its live descendants. */
function treeCpu(root: number): number {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const info = new Map(all.map((pid) => [pid, procCpu(pid)]));
  let total = 0;
  for (const [pid, c] of info) {
    if (!c) continue;
    for (let p: number | undefined = pid, depth = 0; p && depth < 20; p = info.get(p)?.ppid, depth++) {
      if (p === root) {
        total += c.own;
        break;
      }
    }
  }
  return total;
}

/**
 * CPU of a PostgreSQL server on this machine: the postmaster, its live backends and those that
 * exited (the postmaster's children times). null for a server elsewhere.
 */
async function postgresCpuReader(adminUrl: string): Promise<(() => number) | null> {
  try {
    const dir = await psql(adminUrl, `select current_setting('data_directory')`);
    const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!procCpu(pid)) return null;
    return () => {
      // exited backends are in the postmaster's children times; treeCpu counts it and the live ones
      return procCpu(pid)!.children + treeCpu(pid);
    };
  } catch {
    return null;
  }
}

let pgCpu: (() => number) | null = null;

/** CPU spent by PostgreSQL and by this bench's finished children while `fn` ran. */
async function withCpu<T>(fn: () => Promise<T>): Promise<{ value: T; client: number; postgres: number | null }> {
  const c0 = finishedChildrenCpu();
  const p0 = pgCpu?.() ?? null;
  const value = await fn();
  await new Promise((r) => setTimeout(r, 200)); // backends of a finished client exit
  return { value, client: finishedChildrenCpu() - c0, postgres: p0 === null ? null : pgCpu!() - p0 };
}

async function benchCopy(adminUrl: string, file: string, lines: number): Promise<Measure> {
  const url = await freshDatabase(adminUrl, 'bench_copy');
  await psql(
    url,
    `create table bench_raw (card text, txn text not null, ts timestamptz not null, store_id integer,
       terminal_id text, gtin text not null, qty numeric(12, 3) not null, unit_price_cents integer,
       line_discount_cents integer not null)`,
  );
  const path = file.replaceAll("'", "''");
  const { value: r, client, postgres } = await withCpu(() =>
    mustRun('psql \\copy', 'psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy bench_raw (${HEADER}) from '${path}' with (format csv, header true)`]),
  );
  const n = await count(url, 'bench_raw');
  if (n !== lines) fail(`\\copy loaded ${n} rows, the CSV has ${lines}`);
  return { method: '\\copy (baseline)', lines, seconds: r.seconds, cpu: { client, postgres } };
}

/** The CSV's lines as basket_lines rows: cards numbered in order of appearance (0 = no card). */
function finalLinesCsv(file: string, out: string): void {
  if (existsSync(out)) return;
  const rows = readFileSync(file, 'utf8').split('\n');
  const members = new Map<string, number>();
  let basket = 0;
  let lineNo = 0;
  let key = '';
  writeChunked(out, (emit) => {
    for (let i = 1; i < rows.length; i++) {
      const row = rows[i]!;
      if (row === '') continue;
      const [card, txn, , store, terminal, gtin, qty, price, discount] = row.split(',') as string[];
      const k = `${store},${terminal},${txn}`;
      if (k !== key) {
        key = k;
        basket++;
        lineNo = 0;
      }
      let member = 0;
      if (card) {
        member = members.get(card) ?? members.size + 1;
        members.set(card, member);
      }
      emit(`${member},${basket},${++lineNo},0${gtin},${qty},${price},${discount}\n`);
    }
  });
}

async function benchLines(adminUrl: string, file: string, lines: number, batch: number): Promise<Measure[]> {
  const final = file.replace(/\.csv$/, '.final-lines.csv');
  finalLinesCsv(file, final);
  const url = await freshDatabase(adminUrl, 'bench_lines');
  // basket_lines as migrations/20261124_01_foundation.ts creates it
  await psql(
    url,
    `create table bench_lines (member_id bigint not null, basket_id bigint not null, line_no integer not null,
       gtin char(14) not null, qty numeric(12, 3) not null, unit_price_cents integer,
       line_discount_cents integer not null default 0, primary key (member_id, basket_id, line_no))`,
  );
  const { value: r, client, postgres } = await withCpu(() =>
    mustRun('psql \\copy (lines)', 'psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy bench_lines from '${final.replaceAll("'", "''")}' with (format csv)`]),
  );
  const n = await count(url, 'bench_lines');
  if (n !== lines) fail(`\\copy (lines) loaded ${n} rows, the CSV has ${lines}`);
  return [
    {
      method: '\\copy into basket_lines (PK)',
      lines,
      seconds: r.seconds,
      cpu: { client, postgres },
      note: 'reference, not a target: the final rows (ids resolved) into a table of basket_lines\' shape with its primary key',
    },
    await benchLineChunks(url, final, lines, batch),
  ];
}

/**
 * The same final rows by the app's own COPY (postgres.js, `copyIn` of src/db/node.ts), one COPY per
 * `batch` baskets as a POST of that many baskets writes them, one after another on one connection:
 * what storing a POS request's lines costs PostgreSQL, each COPY statement with its fixed cost.
 */
async function benchLineChunks(url: string, final: string, lines: number, batch: number): Promise<Measure> {
  await psql(url, 'truncate bench_lines');
  const chunks: string[] = [];
  let chunk: string[] = [];
  let baskets = 0;
  let basket = '';
  for (const row of readFileSync(final, 'utf8').split('\n')) {
    if (row === '') continue;
    const id = row.slice(row.indexOf(',') + 1, row.indexOf(',', row.indexOf(',') + 1));
    if (id !== basket) {
      basket = id;
      if (++baskets > batch) {
        chunks.push(`${chunk.join('\n')}\n`);
        chunk = [];
        baskets = 1;
      }
    }
    chunk.push(row);
  }
  if (chunk.length > 0) chunks.push(`${chunk.join('\n')}\n`);
  const { openPostgres } = await import('../../src/db/node.ts');
  const database = await openPostgres(url, 1);
  const columns = ['member_id', 'basket_id', 'line_no', 'gtin', 'qty', 'unit_price_cents', 'line_discount_cents'];
  const copyIn = database.copyIn ?? fail('openPostgres gave no copyIn');
  try {
    await copyIn('bench_lines', columns, chunks[0]!.slice(0, chunks[0]!.indexOf('\n') + 1)); // connected
    await psql(url, 'truncate bench_lines');
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    const { postgres } = await withCpu(async () => {
      for (const c of chunks) await copyIn('bench_lines', columns, c);
    });
    const seconds = (performance.now() - t0) / 1000;
    const own = process.cpuUsage(own0);
    const n = await count(url, 'bench_lines');
    if (n !== lines) fail(`COPY in chunks loaded ${n} rows, the CSV has ${lines}`);
    return {
      method: `COPY into basket_lines, ${batch} baskets each`,
      lines,
      seconds,
      cpu: { client: (own.user + own.system) / 1e6, postgres },
      note: `reference, not a target: the same rows in ${chunks.length.toLocaleString('en-US')} COPY statements (as many as POSTs of ${batch} baskets), one connection, one after another`,
    };
  } finally {
    await database.close();
  }
}

/**
 * A migrated database with the bench's stores and product catalogue (as a chain has before its
 * terminals post), set up in-process through the app's own code.
 */
async function preparedDatabase(adminUrl: string, name: string): Promise<string> {
  const url = await freshDatabase(adminUrl, name);
  const { openPostgres } = await import('../../src/db/node.ts');
  const { migrateToLatest } = await import('../../src/db/index.ts');
  const { upsertProducts, upsertStores } = await import('../../src/catalogue/index.ts');
  const database = await openPostgres(url, 2);
  try {
    await migrateToLatest(database.db);
    await upsertStores({ db: database.db }, STORES);
    await upsertProducts({ db: database.db }, benchCatalogue());
  } finally {
    await database.close();
  }
  return url;
}

async function benchImport(adminUrl: string, file: string, lines: number): Promise<Measure[]> {
  const url = await preparedDatabase(adminUrl, 'bench_import');
  const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' };
  const noopCpu = await withCpu(() => mustRun('cli migrate', process.execPath, [...NODE_FLAGS, 'src/cli.ts', 'migrate'], env));
  const noop = noopCpu.value;
  console.error(`  cli import running…`);
  const { value: r, client, postgres } = await withCpu(() => runChild(process.execPath, [...nodeFlags, ...NODE_FLAGS, 'src/cli.ts', 'import', 'baskets', file], { env, echo: true }));
  if (r.code !== 0) fail(`cadence import exited with ${r.code} (2 = rows rejected, see ${file.replace(/\.csv$/, '.errors.csv')})\n${r.stdout}${r.stderr}`);
  const summary = r.stdout.match(/(\d+) rows, (\d+) imported, (\d+) rejected/);
  if (!summary) fail(`cadence import printed no summary:\n${r.stdout}${r.stderr}`);
  const [rows, imported, rejected] = summary!.slice(1).map(Number) as [number, number, number];
  console.error(`  cli: ${r.stdout.trim()}`);
  if (rows !== lines || imported !== lines || rejected !== 0) {
    fail(`cadence import: ${rows} rows, ${imported} imported, ${rejected} rejected; the CSV has ${lines} lines`);
  }
  const stored = await count(url, 'basket_lines');
  if (stored !== lines) fail(`after the import basket_lines holds ${stored} rows, the CSV has ${lines}`);
  return [
    { method: 'cadence import (CLI)', lines, seconds: r.seconds, cpu: { client, postgres } },
    {
      method: '  of which CLI start',
      lines: 0,
      seconds: noop.seconds,
      cpu: { client: noopCpu.client, postgres: noopCpu.postgres },
      note: '`npm run cadence -- migrate` (a no-op, run as node with its flags) on the same database',
    },
  ];
}

interface WireBasket {
  storeId: number;
  terminalId: string;
  txnId: string;
  ts: string;
  cardNumber: string | null;
  lines: { gtin: string; qty: number; unitPriceCents: number; lineDiscountCents: number }[];
}

/** The CSV as request bodies: adjacent lines of one txn form a basket; `batch` baskets a body. */
/**
 * One POST on a keep-alive connection, with node:http rather than fetch: undici's fetch cost the
 * bench's own process about 1 ms of CPU a request, on the same 2 cores as the server it measures.
 * The body is sent as prepared bytes (a POS terminal's serializing is not the server's cost).
 */
function post(agent: Agent, url: URL, headers: Record<string, string>, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function requestBodies(file: string, batch: number): { bodies: Buffer[]; baskets: number; lines: number } {
  const text = readFileSync(file, 'utf8');
  if (text.includes('"')) fail(`${file}: quoted CSV fields; the bench's own reader does not handle them`);
  const rows = text.split('\n');
  if (rows[0] !== HEADER) fail(`${file}: unexpected header ${rows[0]}`);
  const bodies: Buffer[] = [];
  let pending: WireBasket[] = [];
  let current: WireBasket | null = null;
  let currentKey = '';
  let baskets = 0;
  let lines = 0;
  const close = () => {
    if (!current) return;
    pending.push(current);
    baskets++;
    if (pending.length === batch) {
      bodies.push(Buffer.from(JSON.stringify({ baskets: pending })));
      pending = [];
    }
  };
  for (let i = 1; i < rows.length; i++) {
    const row = rows[i]!;
    if (row === '') continue;
    const [card, txn, ts, store, terminal, gtin, qty, price, discount] = row.split(',') as [string, string, string, string, string, string, string, string, string];
    const key = `${store}\u0000${terminal}\u0000${txn}`;
    if (key !== currentKey) {
      close();
      currentKey = key;
      current = { storeId: Number(store), terminalId: terminal, txnId: txn, ts, cardNumber: card || null, lines: [] };
    }
    current!.lines.push({ gtin, qty: Number(qty), unitPriceCents: Number(price), lineDiscountCents: Number(discount) });
    lines++;
  }
  close();
  if (pending.length) bodies.push(Buffer.from(JSON.stringify({ baskets: pending })));
  return { bodies, baskets, lines };
}


async function startServer(url: string): Promise<{ base: string; child: ChildProcess; log: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags, ...NODE_FLAGS, 'src/node.ts'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DEMO: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) fail(`the server exited during start:\n${log}`);
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) break;
      await res.arrayBuffer();
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) fail(`the server was not ready within 60 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, child, log: () => log };
}

interface BatchReply {
  created: number;
  duplicates: number;
  conflicts: number;
  rejected: number;
  results: { status: string; issues: { path: string; message: string }[] }[];
}

async function benchHttp(adminUrl: string, file: string, lines: number, batch: number, clients: number, retries: number): Promise<Measure> {
  const url = await freshDatabase(adminUrl, 'bench_http');
  const server = await startServer(url); // migrates the empty database
  try {
    const keyRun = await mustRun('cli keys create', process.execPath, [...NODE_FLAGS, 'src/cli.ts', 'keys', 'create', '--role', 'admin', '--name', 'bench'], {
      ...process.env,
      DATABASE_URL: url,
      LOG_LEVEL: 'warn',
    });
    const key = keyRun.stdout.match(/\b(cad_\S+)/)?.[1] ?? fail(`no key in the output of keys create:\n${keyRun.stdout}`);
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const storesRes = await fetch(`${server.base}/v1/stores`, { method: 'PUT', headers, body: JSON.stringify({ stores: STORES }) });
    if (storesRes.status !== 200) fail(`PUT /v1/stores answered ${storesRes.status}: ${await storesRes.text()}`);
    await storesRes.arrayBuffer().catch(() => {});
    const productsRes = await fetch(`${server.base}/v1/products`, { method: 'PUT', headers, body: JSON.stringify({ products: benchCatalogue() }) });
    if (productsRes.status !== 200) fail(`PUT /v1/products answered ${productsRes.status}: ${await productsRes.text()}`);
    await productsRes.arrayBuffer().catch(() => {});

    const t0 = performance.now();
    const { bodies, baskets, lines: bodyLines } = requestBodies(file, batch);
    if (bodyLines !== lines) fail(`the request bodies hold ${bodyLines} lines, the CSV ${lines}`);
    console.error(`  http: ${baskets} baskets in ${bodies.length} requests of ≤${batch} (prepared in ${((performance.now() - t0) / 1000).toFixed(1)} s, not timed)`);

    const agent = new Agent({ keepAlive: true, maxSockets: clients });
    const endpoint = new URL(`${server.base}/v1/baskets`);
    let next = 0;
    let created = 0;
    const latencies: number[] = [];
    const problems: string[] = [];
    const retried: string[] = [];
    const client = async () => {
      for (;;) {
        const i = next++;
        if (i >= bodies.length || problems.length > 0) return;
        const sent = performance.now();
        let res: { status: number; text: string };
        let text: string;
        for (let attempt = 0; ; attempt++) {
          res = await post(agent, endpoint, headers, bodies[i]!);
          text = res.text;
          // Batches are idempotent, so a client may retry a 5xx; strict by default (--retries 0).
          if (res.status < 500 || attempt >= retries) break;
          retried.push(`request ${i}: HTTP ${res.status}, ${server.log().match(new RegExp(`"requestId":"${JSON.parse(text).requestId}","error":"([^"]*)"`))?.[1] ?? '?'}`);
        }
        latencies.push(performance.now() - sent);
        if (res.status !== 200) {
          problems.push(`request ${i}: HTTP ${res.status} ${text.slice(0, 500)}`);
          return;
        }
        const reply = JSON.parse(text) as BatchReply;
        if (reply.duplicates || reply.conflicts || reply.rejected) {
          const bad = reply.results.find((r) => r.status !== 'created');
          problems.push(`request ${i}: ${reply.duplicates} duplicates, ${reply.conflicts} conflicts, ${reply.rejected} rejected, e.g. ${JSON.stringify(bad)}`);
          return;
        }
        created += reply.created;
      }
    };
    const start = performance.now();
    const serverCpu0 = treeCpu(server.child.pid!);
    const loadCpu0 = process.cpuUsage();
    const { client: _, postgres } = await withCpu(() => Promise.all(Array.from({ length: clients }, client)));
    agent.destroy();
    const serverCpu = treeCpu(server.child.pid!) - serverCpu0;
    const loadCpu = process.cpuUsage(loadCpu0);
    const seconds = (performance.now() - start) / 1000;
    if (problems.length) fail(`POST /v1/baskets failed:\n  ${problems.join('\n  ')}\nserver log:\n${server.log().slice(-4000)}`);
    if (created !== baskets) fail(`the server created ${created} baskets, ${baskets} were posted`);
    const stored = await count(url, 'basket_lines');
    if (stored !== lines) fail(`after posting basket_lines holds ${stored} rows, the CSV has ${lines}`);
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(0);
    return {
      method: `POST /v1/baskets (${batch}/req, ${clients} clients)`,
      lines,
      seconds,
      cpu: { client: serverCpu, postgres, load: (loadCpu.user + loadCpu.system) / 1e6 },
      note: `${bodies.length} requests${retried.length ? ` (${retried.length} retried after a 5xx: ${[...new Set(retried.map((r) => r.replace(/^request \d+: /, '')))].join('; ')})` : ''}, latency p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${pct(1)} ms`,
    };
  } finally {
    await stopChild(server.child);
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * The shortest wall time the CPU a method used allows on this machine: no process can finish
 * before its own CPU seconds, nor all of them before their sum spread over every core.
 */
function cpuBoundSeconds(m: Measure): number | null {
  if (!m.cpu || m.cpu.postgres === null) return null;
  const { client, postgres, load = 0 } = m.cpu;
  return Math.max(client, postgres, (client + postgres + load) / cpus().length);
}

function printTable(results: Measure[], copySeconds: number | null) {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const rows = results.map((m) => {
    const rate = m.lines > 0 ? m.lines / m.seconds : null;
    const ratio = rate !== null && copySeconds !== null ? copySeconds / m.seconds : null;
    const bound = cpuBoundSeconds(m);
    const cpu = (v: number | null | undefined) => (v === null || v === undefined ? '' : v.toFixed(2));
    return [
      m.method,
      m.lines ? fmt(m.lines) : '',
      m.seconds.toFixed(2),
      rate === null ? '' : fmt(rate),
      ratio === null ? '' : `${ratio.toFixed(2)}×`,
      cpu(m.cpu?.client),
      cpu(m.cpu?.postgres),
      cpu(m.cpu?.load),
      bound !== null && copySeconds !== null && m.lines > 0 ? `${(copySeconds / bound).toFixed(2)}×` : '',
    ];
  });
  const head = ['method', 'lines', 'seconds', 'lines/s', 'vs \\copy', 'client CPU s', 'PostgreSQL CPU s', 'load CPU s', 'CPU-bound best'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  for (const m of results) if (m.note) console.log(`  ${m.method.trim()}: ${m.note}`);
  console.log(`  CPU-bound best: the best ratio to \\copy the CPU seconds used allow on ${cpus().length} cores, max(client, PostgreSQL, all of it incl. the bench's HTTP clients / cores); a method cannot beat it without using less CPU`);
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      lines: { type: 'string', default: '1000000' },
      only: { type: 'string', default: 'copy,lines,import,http' },
      batch: { type: 'string', default: '100' },
      clients: { type: 'string', default: '4' },
      retries: { type: 'string', default: '0' },
      keep: { type: 'boolean', default: false },
    },
  });
  const lines = Number(values.lines);
  const batch = Number(values.batch);
  const clients = Number(values.clients);
  const retries = Number(values.retries);
  if (!Number.isInteger(retries) || retries < 0) fail(`--retries wants a non-negative integer, not ${values.retries}`);
  if (!Number.isInteger(lines) || lines < 1) fail(`--lines wants a positive integer, not ${values.lines}`);
  if (!Number.isInteger(batch) || batch < 1 || batch > 500) fail(`--batch wants 1–500, not ${values.batch}`);
  if (!Number.isInteger(clients) || clients < 1) fail(`--clients wants a positive integer, not ${values.clients}`);
  const only = new Set(values.only!.split(',').map((s) => s.trim()));
  for (const m of only) if (!['copy', 'lines', 'import', 'http'].includes(m)) fail(`--only: unknown method ${m} (copy, lines, import, http)`);

  installCleanup();
  // Without DATABASE_URL: a throwaway PostgreSQL for the whole run; the bench runs again inside it.
  let rerun: ChildProcess | null = null;
  const adminUrl =
    process.env.DATABASE_URL ??
    (await rerunUnderPostgres('ingest', args, (child) => {
      if (child) children.add((rerun = child));
      else if (rerun) children.delete(rerun);
    }));

  mkdirSync(benchDir, { recursive: true });
  const file = join(benchDir, `baskets-v${GENERATOR_VERSION}-${lines}.csv`);
  if (existsSync(file)) console.error(`bench: reusing ${file}`);
  else {
    const t = performance.now();
    const { baskets } = generateCsv(file, lines);
    console.error(`bench: wrote ${file}: ${lines.toLocaleString('en-US')} lines, ${baskets.toLocaleString('en-US')} baskets (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  }

  pgCpu = await postgresCpuReader(adminUrl);
  const server = await psql(adminUrl, `select current_setting('server_version') || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', shared_buffers=' || current_setting('shared_buffers')`);
  const results: Measure[] = [];
  let copySeconds: number | null = null;
  const databases: string[] = [];
  let failure: unknown = null;
  try {
    if (only.has('copy')) {
      console.error('bench: \\copy baseline…');
      databases.push('bench_copy');
      const m = await benchCopy(adminUrl, file, lines);
      copySeconds = m.seconds;
      results.push(m);
    }
    if (only.has('lines')) {
      console.error('bench: \\copy into basket_lines (reference)…');
      databases.push('bench_lines');
      results.push(...(await benchLines(adminUrl, file, lines, batch)));
    }
    if (only.has('import')) {
      console.error('bench: cadence import…');
      databases.push('bench_import');
      results.push(...(await benchImport(adminUrl, file, lines)));
    }
    if (only.has('http')) {
      console.error('bench: POST /v1/baskets…');
      databases.push('bench_http');
      results.push(await benchHttp(adminUrl, file, lines, batch, clients, retries));
    }
  } catch (err) {
    failure = err; // still print what was measured
  } finally {
    await Promise.all([...children].map((c) => stopChild(c)));
  }

  console.log('');
  console.log(`ingest bench: ${lines.toLocaleString('en-US')} scan lines from ${file}`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; PostgreSQL ${server}`);
  console.log('');
  printTable(results, copySeconds);
  console.log('');
  const byMethod = (prefix: string) => results.find((m) => m.method.startsWith(prefix));
  if (copySeconds !== null) {
    for (const [label, prefix, target] of [
      ['import', 'cadence import', TARGETS.import],
      ['HTTP', 'POST', TARGETS.http],
    ] as const) {
      const m = byMethod(prefix);
      if (!m) continue;
      const ratio = copySeconds / m.seconds;
      console.log(`target: ${label.padEnd(6)} ≥ ${target.toFixed(1)}× \\copy: ${ratio.toFixed(2)}×  ${ratio >= target ? 'PASS' : 'MISS'}`);
    }
  } else console.log('targets: not evaluated (run with the copy baseline)');
  console.log('note: absolute times drift between machines and runs; the ratios compare methods measured in the same run on the same server.');
  console.log(`note: client CPU is psql's, the import CLI's (its start included) or the HTTP server's (not the bench's clients); PostgreSQL CPU ${pgCpu ? 'is the whole server\'s, all its processes' : 'is not known (the server is not on this machine)'}.`);

  if (failure) {
    console.log('FAILED: the table lacks the method that failed; see below.');
    throw failure;
  }
  if (!values.keep) {
    for (const name of databases) await psql(adminUrl, `drop database if exists ${name} with (force)`);
  } else console.log(`kept databases: ${databases.join(', ')} on ${new URL(adminUrl).host}`);
}
