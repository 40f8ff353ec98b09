import { sql } from 'kysely';
import { stringify as yamlText } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { silentLogger, type Logger } from '../../src/lib/logger.ts';
import { mod3736CheckChar } from '../../src/lists/barcodes.ts';
import { useTestDeps } from '../support/db.ts';
import { docDeps } from '../support/doc-deps.ts';
import type { appWithKeys } from '../support/factories.ts';
import { seededRandom as rng } from '../support/random.ts';
import { seedChain, validBodies, validPathParams as pathParamsOf, type ChainIds } from '../support/valid-requests.ts';

/**
 * Every operation of the app's own OpenAPI document (paths under /v1), under hostile input:
 * its path parameters, its query parameters and its request body, one field at a time, replaced
 * by values of the wrong type, out of range, at the edges of what PostgreSQL can hold, holding
 * text it cannot store, or shaped wrong; plus whole bodies that are not what the route takes.
 * Driven by the document, so a new route is swept without anyone listing it here (a route with a
 * body gets a valid body below, or one built from its schema).
 *
 * Whatever comes in: never a 5xx; a 4xx is problem+json whose `status` is the HTTP status; a 422
 * names its fields; and a write that is refused leaves every table's row count as it was.
 * Without an API key (or with a forged one), every operation answers 401. Values are drawn with
 * a fixed seed per operation: a run is repeatable, and adding a route changes no other's draw.
 *
 * Then the same sweep with the key of each other role the operation allows, as the document
 * states its roles (`security`, from allowRoles in src/http/auth.ts): marketer, and pos keys of
 * store 1 (the store of the valid requests) and of store 2, for which every valid request is
 * out of scope — a 403 that stores nothing. Any 2xx outside a pos key's store is a problem: store
 * ids in the body or the path made hostile (huge, negative, text, past int4, another store) are
 * all swept. These keys get a seeded sample of the values per field (all of them on store
 * fields), with a seed of their own. A role the operation does not allow (vendor: every one) gets
 * a 403 for the valid request, and a 4xx for every hostile store or manufacturer id.
 * A failure lists every problem of the operation: method, URL, what was hostile, the body sent,
 * the response and, for a 500, the error the app logged.
 */

// ---------------------------------------------------------------------------------------------
// The document, read at collection time so each operation is its own test. Building the app
// touches no database (docDeps); the document is the one GET /openapi.json serves.
// ---------------------------------------------------------------------------------------------

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}
interface Schema {
  type?: string | string[];
  $ref?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  example?: unknown;
  examples?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minLength?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  format?: string;
}
interface Operation {
  parameters?: Parameter[];
  /**
   * `[{ apiKey: roles }, { apiKeyHeader: roles }]`: the roles the operation allows, the same in
   * either scheme (src/http/auth.ts, allowRoles).
   */
  security?: Record<string, string[]>[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

const document = (await (await createApp(docDeps).request('/openapi.json')).json()) as Document;
const operations = Object.entries(document.paths)
  .filter(([path]) => path.startsWith('/v1/'))
  .flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => ['get', 'put', 'post', 'delete', 'patch'].includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op, key: `${method.toUpperCase()} ${path}` })),
  );

// ---------------------------------------------------------------------------------------------
// Hostile values, each with a label for the failure message (a 5000-character string or a
// 2000-deep object would drown it).
// ---------------------------------------------------------------------------------------------
type Labelled = readonly [label: string, value: unknown];

const long = 'x'.repeat(5000);
const deep = (depth: number, inner: unknown = 1): unknown => {
  let v: unknown = inner;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};
const deepArray = (depth: number): unknown => {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

/** A JSON token written into the body text as it is (a placeholder until then). */
const RAW = '\u0001raw:';
const raw = (token: string) => `${RAW}${token}`;
const withRawTokens = (json: string) => json.replace(/"\\u0001raw:([^"]*)"/g, '$1');

/** For a field of a JSON (or YAML) body. */
const hostileValues: Labelled[] = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['0', 0],
  ['-1', -1],
  ['1.5', 1.5],
  ['0.0001', 0.0001],
  ['2**31-1', 2 ** 31 - 1],
  ['2**31', 2 ** 31],
  ['-(2**31)-1', -(2 ** 31) - 1],
  ['2**53', 2 ** 53],
  ['2**53+2', 2 ** 53 + 2],
  ['2**63', 2 ** 63],
  ['1e308', 1e308],
  ['-1e308', -1e308],
  ['5e-324', Number.MIN_VALUE],
  ["''", ''],
  ["' '", ' '],
  ["'0'", '0'],
  ["'-1'", '-1'],
  ["'2147483648'", '2147483648'],
  ["'99999999999999999999'", '99999999999999999999'],
  ['5000 chars', long],
  ["'a\\u0000b'", 'a\u0000b'],
  ["'\\ud800'", '\ud800'],
  ["'é😀'", 'é😀'],
  ['SQL-ish', "' or 1=1 --"],
  ["'../../etc/passwd'", '../../etc/passwd'],
  ["'0000-01-01'", '0000-01-01'],
  ["'2026-02-30'", '2026-02-30'],
  ["'9999-12-31'", '9999-12-31'],
  ["'0000-01-01T00:00:00Z'", '0000-01-01T00:00:00Z'],
  ["'0001-01-01T00:00:00+14:00'", '0001-01-01T00:00:00+14:00'],
  ["'9999-12-31T23:59:59-14:00'", '9999-12-31T23:59:59-14:00'],
  ["'2026-11-24T10:15:00.999999+14:00'", '2026-11-24T10:15:00.999999+14:00'],
  ["'1900-01-01'", '1900-01-01'],
  ["'9999-01-01'", '9999-01-01'],
  ["'1900-01-01T00:00:00Z'", '1900-01-01T00:00:00Z'],
  ["'9999-01-01T00:00:00Z'", '9999-01-01T00:00:00Z'],
  ['list barcode of serial 10^20 - 1', `L${'9'.repeat(20)}${mod3736CheckChar('9'.repeat(20))}`],
  ['list barcode of serial ABCDEF', `LABCDEF${mod3736CheckChar('ABCDEF')}`],
  ['[]', []],
  ['[1, 2]', [1, 2]],
  ['[null]', [null]],
  ['{}', {}],
  ['{ a: 1 }', { a: 1 }],
  // JSON number tokens JSON.stringify cannot write, put in as they are sent (see `raw`).
  ['1e400 (Infinity once parsed)', raw('1e400')],
  ['-0', raw('-0')],
  ['1.0', raw('1.0')],
  ['30-digit integer', raw('123456789012345678901234567890')],
  ['1e-400 (0 once parsed)', raw('1e-400')],
  ['object 2000 deep', deep(2000)],
  ['array 2000 deep', deepArray(2000)],
  ['10000 numbers', Array.from({ length: 10000 }, (_, i) => i)],
];

/** For a path segment or a query value, as written in the URL (pre-encoded where it says so). */
const hostileSegments: string[] = [
  '',
  ' ',
  '0',
  '-1',
  '1.5',
  '1e3',
  '0x10',
  '2147483647',
  '2147483648',
  '-2147483649',
  '9007199254740993',
  '99999999999999999999',
  '1e308',
  'NaN',
  'Infinity',
  'null',
  'true',
  '%00',
  'a%00b',
  '%',
  '%zz',
  '%ED%A0%80', // a surrogate encoded in UTF-8: not UTF-8
  '%FF%FE',
  encodeURIComponent(long),
  encodeURIComponent('é😀'),
  encodeURIComponent('../../etc/passwd'),
  '..%2F..%2Fetc',
  encodeURIComponent("' or 1=1 --"),
  encodeURIComponent('0000-01-01T00:00:00Z'),
  encodeURIComponent('9999-12-31T23:59:59-14:00'),
  '[]',
  '{}',
];

/** Whole JSON bodies that are not what any route takes. */
const hostileJsonBodies: Labelled[] = [
  ['malformed JSON', '{"a": '],
  ['empty body', ''],
  ['JSON null', 'null'],
  ['JSON array', '[]'],
  ['JSON array of objects', '[{}]'],
  ['JSON string', '"hello"'],
  ['JSON number', '42'],
  ['JSON true', 'true'],
  ['{}', '{}'],
  ['__proto__ key', '{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}'],
  ['key holding NUL', '{"a\\u0000": 1}'],
  ['lone surrogate', '"\\ud800"'],
  ['array 100000 deep', '['.repeat(100_000) + ']'.repeat(100_000)],
  ['object 20000 deep', '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)],
  ['trailing garbage', '{} {}'],
  ['BOM then JSON', '\ufeff{}'],
];

// ---------------------------------------------------------------------------------------------
// One fixed-seed stream (mulberry32, test/support/random.ts) per operation, seeded by its name.
// ---------------------------------------------------------------------------------------------
const seedOf = (text: string) => {
  let h = 20261125;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
};
function sample<T>(random: () => number, xs: readonly T[], n: number): T[] {
  const copy = [...xs];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

// ---------------------------------------------------------------------------------------------
// The database behind the app: a chain with stores, a catalogue, a member with a card and a list, two
// committed sales (one to void, one to return) and a spare API key to revoke.
// ---------------------------------------------------------------------------------------------
/** What the app logged for its 500s, by request id: the cause, shown in the failure message. */
const logged = new Map<string, string>();
const recordingLogger: Logger = {
  ...silentLogger,
  error: (msg, fields = {}) => void logged.set(String(fields.requestId), `${msg}: ${String(fields.error)}`),
};
const getDeps = useTestDeps({ logger: recordingLogger });
let api: Awaited<ReturnType<typeof appWithKeys>>;
let ids: ChainIds;

beforeAll(async () => {
  ({ api, ids } = await seedChain(getDeps()));
});

/** A valid value for each path parameter (the others stay valid while one is hostile). */
const validPathParams = () => pathParamsOf(ids);

/** A minimal value for a schema of the document, for routes without a valid body above. */
function fromSchema(schema: Schema | undefined, depth = 0): unknown {
  if (!schema || depth > 8) return null;
  if (schema.$ref) return fromSchema(document.components?.schemas?.[schema.$ref.split('/').pop()!], depth + 1);
  if (schema.example !== undefined) return structuredClone(schema.example);
  if (schema.examples?.length) return structuredClone(schema.examples[0]);
  if (schema.default !== undefined) return structuredClone(schema.default);
  if (schema.enum?.length) return schema.enum[0];
  const union = schema.oneOf ?? schema.anyOf;
  if (union?.length) return fromSchema(union[0], depth + 1);
  if (schema.allOf?.length) return Object.assign({}, ...schema.allOf.map((s) => fromSchema(s, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, s]) => [k, fromSchema(s, depth + 1)]));
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => fromSchema(schema.items, depth + 1));
    case 'integer':
    case 'number':
      return Math.max(1, schema.minimum ?? 1);
    case 'boolean':
      return false;
    case 'string':
      return schema.format === 'date' ? '2026-11-24' : schema.format === 'date-time' ? '2026-11-24T10:15:00Z' : 'a'.repeat(Math.max(1, schema.minLength ?? 1));
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations of a body: every field (object key or array element, at any depth) replaced by a
// sample of the hostile values, dropped, or given an unknown sibling.
// ---------------------------------------------------------------------------------------------
type Path = (string | number)[];
function fieldPaths(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => out.push([...prefix, i], ...fieldPaths(v, [...prefix, i])));
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push([...prefix, k], ...fieldPaths(v, [...prefix, k]));
  }
  return out;
}
function objectPaths(value: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => objectPaths(v, [...prefix, i]));
  if (typeof value !== 'object' || value === null) return [];
  return [prefix, ...Object.entries(value).flatMap(([k, v]) => objectPaths(v, [...prefix, k]))];
}
function arrayPaths(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [];
  const inner = Object.entries(value).flatMap(([k, v]) => arrayPaths(v, [...prefix, Array.isArray(value) ? Number(k) : k]));
  return Array.isArray(value) ? [prefix, ...inner] : inner;
}
function setAt(root: unknown, path: Path, update: (parent: Record<string | number, unknown>, key: string | number) => void) {
  let parent = root as Record<string | number, unknown>;
  for (const part of path.slice(0, -1)) parent = parent[part] as Record<string | number, unknown>;
  update(parent, path[path.length - 1]!);
}
/** Block YAML as a marketer writes it; flow (JSON, which is YAML too) where nesting is too deep for it. */
function asYaml(value: unknown): string {
  try {
    return yamlText(value);
  } catch {
    return JSON.stringify(value);
  }
}
const show = (path: Path) => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('') || '(body)';

interface BodyCase {
  label: string;
  body: unknown;
  /** The field replaced or left out, and the value put there (none when left out). */
  field?: Path;
  value?: unknown;
  dropped?: boolean;
}
/**
 * Hostile values per field with an admin key: all of them, in an order drawn with the operation's
 * seed. The other keys draw a sample (Caller.valuesPerField): all of them for every key took
 * 77 s on PGlite against 43 s with the samples, and found nothing more.
 */
const VALUES_PER_FIELD = hostileValues.length;

/**
 * The mutations of `base`, drawn with the seed of `seed`: `perField` hostile values for each field,
 * all of them (and `extraValues`) for the fields `everyValue` picks (those naming a key's scope).
 */
function bodyCases(
  seed: string,
  base: unknown,
  perField = VALUES_PER_FIELD,
  everyValue: (path: Path) => boolean = () => false,
  extraValues: (path: Path) => Labelled[] = () => [],
): BodyCase[] {
  const random = rng(seedOf(seed));
  const cases: BodyCase[] = [];
  for (const path of fieldPaths(base)) {
    // sample() shuffles the whole list whatever it keeps: the stream moves on the same for any n.
    const drawn = sample(random, hostileValues, everyValue(path) ? hostileValues.length : perField);
    for (const [label, value] of [...drawn, ...extraValues(path)]) {
      const body = structuredClone(base);
      setAt(body, path, (parent, k) => (parent[k] = value));
      cases.push({ label: `${show(path)} = ${label}`, body, field: path, value });
    }
    const dropped = structuredClone(base);
    setAt(dropped, path, (parent, k) => (Array.isArray(parent) ? parent.splice(k as number, 1) : delete parent[k]));
    cases.push({ label: `${show(path)} left out`, body: dropped, field: path, dropped: true });
  }
  for (const path of objectPaths(base)) {
    const body = structuredClone(base) as Record<string, unknown>;
    const target = path.length ? (path.reduce<unknown>((o, p) => (o as Record<string | number, unknown>)[p], body) as Record<string, unknown>) : body;
    target.unknownField = 1;
    cases.push({ label: `${show(path)}.unknownField = 1`, body });
  }
  for (const path of arrayPaths(base)) {
    const body = structuredClone(base);
    const target = path.reduce<unknown>((o, p) => (o as Record<string | number, unknown>)[p], body) as unknown[];
    if (target.length === 0) continue;
    target.push(structuredClone(target[0]));
    cases.push({ label: `${show(path)} with its first item twice`, body });
  }
  if (typeof base === 'object' && base !== null && !Array.isArray(base)) {
    cases.push({ label: 'the body as an array', body: [base] });
    cases.push({ label: 'the body 100 times in an array', body: Array.from({ length: 100 }, () => base) });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------
interface Sent {
  method: string;
  url: string;
  what: string;
  body?: string | undefined;
  contentType?: string | undefined;
  key?: string | null;
  headers?: Record<string, string>;
}
const clip = (s: string, n = 400) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

let tables: string[] | undefined;
/** The schema's tables (migrations' bookkeeping aside), listed once. */
async function tableNames(): Promise<string[]> {
  return (tables ??= (
    await sql<{ name: string }>`select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely%'
      order by table_name`.execute(getDeps().db)
  ).rows.map((r) => r.name));
}

async function rowCounts(): Promise<Record<string, number>> {
  const db = getDeps().db;
  const counts = (await tableNames()).map((t) => sql`(select count(*) from ${sql.table(t)})::int as ${sql.ref(t)}`);
  return (await sql<Record<string, number>>`select ${sql.join(counts)}`.execute(db)).rows[0]!;
}

/** Each table's rows, hashed (text form, sorted): what a retry must leave as the first request did. */
async function tableContents(): Promise<Record<string, string>> {
  const hashes = (await tableNames()).map(
    (t) => sql`(select coalesce(md5(string_agg(x::text, '|' order by x::text)), '') from ${sql.table(t)} x) as ${sql.ref(t)}`,
  );
  return (await sql<Record<string, string>>`select ${sql.join(hashes)}`.execute(getDeps().db)).rows[0]!;
}

/**
 * Writes that make something new on every call, by design: a retry of them is a second one.
 * Every other write, sent twice, must leave every table as the first call left it.
 */
const NEW_EACH_CALL: Record<string, { tables: string[]; why: string }> = {
  'POST /v1/keys': { tables: ['api_keys'], why: 'a new key each time (its secret is shown once, so a retry cannot return it)' },
  'POST /v1/jobs/analyse': { tables: ['job_runs'], why: 'each call is a run, recorded; the analytics it computes are the same' },
  'POST /v1/jobs/lists': { tables: ['job_runs'], why: 'each call is a run, recorded; a period built already adds nothing' },
};

/** Row counts after the last request of a write operation (one count per request, not two). */
let counted: Record<string, number> | undefined;

/**
 * A batch of baskets answers 200 with one outcome per basket; one that fails validation is
 * `rejected` there, as a single basket is a 422. So a batch refuses as a whole when every basket
 * is rejected: nothing stored, no basket id, nothing said of another store's baskets.
 */
function refusedBatch(text: string): boolean {
  let body: { created?: unknown; results?: { status?: unknown; basketId?: unknown }[] };
  try {
    body = JSON.parse(text);
  } catch {
    return false;
  }
  return (
    body.created === 0 &&
    Array.isArray(body.results) &&
    body.results.length > 0 &&
    body.results.every((r) => r.status === 'rejected' && r.basketId === null)
  );
}

/** Sends one request; returns the problems with its answer (none when all is well). */
async function probe(
  sent: Sent,
  options: { writes: boolean; expect?: readonly [status: number, why: string]; outOfScope?: boolean },
): Promise<string[]> {
  const before = options.writes ? (counted ??= await rowCounts()) : undefined;
  const headers: Record<string, string> = { ...(sent.headers ?? {}) };
  const key = sent.key === undefined ? api.keys.admin : sent.key;
  if (key) headers.authorization = `Bearer ${key}`;
  if (sent.contentType) headers['content-type'] = sent.contentType;
  let res: Response;
  try {
    res = await api.app.request(sent.url, { method: sent.method, headers, body: sent.body });
  } catch (err) {
    return [`${sent.method} ${clip(sent.url)} [${sent.what}] threw ${(err as Error).message}`];
  }
  const text = await res.text();
  const where = () =>
    `${sent.method} ${clip(sent.url, 200)} [${sent.what}]${sent.body !== undefined ? ` body ${clip(sent.body, 300)}` : ''} → ${res.status} ${clip(text, 600)}`;
  const problems: string[] = [];
  if (res.status >= 500) {
    const id = (JSON.parse(text) as { requestId?: string }).requestId;
    problems.push(`5xx: ${where()}; logged: ${clip(logged.get(String(id)) ?? '(nothing)', 300)}`);
  }
  if (options.expect && res.status !== options.expect[0]) problems.push(`not ${options.expect[0]} ${options.expect[1]}: ${where()}`);
  if (options.outOfScope && res.status < 400 && !refusedBatch(text)) problems.push(`${res.status} outside the key's scope: ${where()}`);
  if (res.status >= 400) {
    let body: { status?: unknown; issues?: { path?: unknown }[]; type?: unknown; title?: unknown } | undefined;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!(res.headers.get('content-type') ?? '').includes('application/problem+json') || !body) {
      problems.push(`not problem+json (${res.headers.get('content-type')}): ${where()}`);
    } else {
      if (body.status !== res.status || typeof body.type !== 'string' || typeof body.title !== 'string') {
        problems.push(`problem.status/type/title do not match: ${where()}`);
      }
      if (res.status === 422 && !(Array.isArray(body.issues) && body.issues.length > 0 && body.issues.every((i) => typeof i.path === 'string' && i.path))) {
        problems.push(`422 without issues naming a path: ${where()}`);
      }
    }
  }
  if (before) {
    const after = (counted = await rowCounts());
    const changed = Object.keys(before).filter((t) => before[t] !== after[t]);
    if (res.status >= 400 && changed.length) {
      problems.push(`refused but stored rows in ${changed.map((t) => `${t} ${before[t]}→${after[t]}`).join(', ')}: ${where()}`);
    }
  }
  return problems;
}

const urlOf = (path: string, params: Record<string, string>, query = '') =>
  path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? 'x') + query;

function validQuery(op: Operation): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of op.parameters ?? []) {
    if (p.in !== 'query' || !p.required) continue;
    out[p.name] = String(fromSchema(p.schema));
  }
  return out;
}
const queryString = (q: Record<string, string>) => {
  const s = Object.entries(q).map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&');
  return s ? `?${s}` : '';
};

// ---------------------------------------------------------------------------------------------
// Who calls: an admin key, and a key of each other role. The valid requests act for store 1.
// ---------------------------------------------------------------------------------------------
const VALID_STORE = 1;
const OTHER_ROLES = ['marketer', 'vendor', 'pos'] as const;
type OtherRole = (typeof OTHER_ROLES)[number];

interface Caller {
  /** In test titles and failure messages. */
  name: string;
  key: () => string;
  /** A pos key's store: a request for any other store is outside its scope. */
  store?: number;
  /**
   * Hostile values drawn per body field; a field naming the key's scope gets them all. Admin gets
   * them all everywhere; the other keys a seeded sample, to keep the sweep's time in bounds.
   */
  valuesPerField: number;
}
const admin: Caller = { name: 'admin', key: () => api.keys.admin, valuesPerField: VALUES_PER_FIELD };
const callersOf: Record<OtherRole, Caller[]> = {
  marketer: [{ name: 'marketer', key: () => api.keys.marketer, valuesPerField: 8 }],
  // No route allows vendor yet; one that does will need its manufacturer scope checked as pos's store is.
  vendor: [{ name: 'vendor (acme)', key: () => api.keys.vendor, valuesPerField: 8 }],
  pos: [
    { name: 'pos (store 1)', key: () => api.keys.pos1, store: VALID_STORE, valuesPerField: 8 },
    { name: 'pos (store 2)', key: () => api.keys.pos2, store: 2, valuesPerField: 4 },
  ],
};

/** The roles an operation allows, as its document states them. */
const rolesOf = (op: Operation): string[] => op.security?.find((r) => r.apiKey)?.apiKey ?? [];

/**
 * Fields naming a store: a pos key's scope. A return may name a sale of another store
 * (`original.storeId`: returns are taken at any store), so that one is not.
 */
const isStoreField = (path: Path) => path[path.length - 1] === 'storeId' && !path.includes('original');
const isStoreParam = (path: string, name: string) => path.startsWith('/v1/stores/{id}') && name === 'id';
/** Fields naming a manufacturer: a vendor key's scope. */
const isManufacturerField = (path: Path) =>
  ['manufacturerId', 'manufacturer'].includes(String(path[path.length - 1])) ||
  (path[0] === 'manufacturers' && path[path.length - 1] === 'id');
/** Whether a hostile body value or path segment still names `store` (1.0 is 1 once parsed). */
const namesStore = (value: unknown, store: number | undefined) =>
  value === store || (typeof value === 'string' && value.startsWith(RAW) && Number(value.slice(RAW.length)) === store);
const segmentNamesStore = (segment: string, store: number | undefined) => {
  let text: string;
  try {
    text = decodeURIComponent(segment);
  } catch {
    return false;
  }
  return text.trim() !== '' && Number(text) === store; // as z.coerce.number reads a path
};

/**
 * The edges of a pos key's scope, besides the hostile values: another store that exists, numbers
 * that name the key's store once cut to 32 bits, and the key's own store written otherwise.
 */
const storeEdges = (store: number): Labelled[] => [
  ['another store', store === 1 ? 2 : 1],
  ['an unknown store', 999],
  ['store + 2**32 (the store, cut to int4)', store + 2 ** 32],
  ['store - 2**32', store - 2 ** 32],
  ['-store', -store],
  ['store + 0.5', store + 0.5],
  ['store as text', String(store)],
  ['store written 1.0e0', raw(`${store}.0e0`)],
  ['[store]', [store]],
  ['{ id: store }', { id: store }],
];
const storeSegments = (store: number): string[] => [
  String(store === 1 ? 2 : 1),
  '999',
  String(store + 2 ** 32),
  String(-store),
  `0${store}`,
  `+${store}`,
  `${store}.0`,
  `0x${store.toString(16)}`,
  `%20${store}`,
  `${store}abc`,
  `${store}%00`,
  `${store},${store === 1 ? 2 : 1}`,
];

type OperationEntry = (typeof operations)[number];

/** What every sweep of an operation needs: its valid URL, bodies and how to send them. */
function requestsOf({ method, path, op, key }: OperationEntry) {
  const pathParams: Record<string, string> = { ...validPathParams()[key] };
  for (const p of op.parameters ?? []) if (p.in === 'path') pathParams[p.name] ??= String(fromSchema(p.schema));
  const query = validQuery(op);
  const content = op.requestBody?.content ?? {};
  const json = 'application/json' in content;
  const yamlType = Object.keys(content).find((t) => t.includes('yaml'));
  const bases = validBodies[key]?.() ?? (json || yamlType ? [fromSchema(content[json ? 'application/json' : yamlType!]!.schema)] : [undefined]);
  const encode = (body: unknown) => (body === undefined ? undefined : yamlType && !json ? asYaml(body) : withRawTokens(JSON.stringify(body)));
  const contentType = json ? 'application/json' : yamlType;
  const url = urlOf(path, pathParams, queryString(query));
  const known = !(op.parameters ?? []).some((p) => p.in === 'path') || key in validPathParams();
  return { writes: method !== 'GET', pathParams, query, json, yamlType, bases, encode, contentType, url, known };
}

/**
 * The whole sweep of one operation with one caller's key. For a pos key, a request outside its
 * store (the valid requests are store 1's; a hostile store id in the body or the path) must be
 * refused: a 2xx there is a problem, as a 5xx is anywhere.
 */
async function sweep(operation: OperationEntry, caller: Caller): Promise<string[]> {
  const { method, path, op, key } = operation;
  const { writes, pathParams, query, json, yamlType, bases, encode, contentType, url, known } = requestsOf(operation);
  const problems: string[] = [];
  const base = { method, url, body: encode(bases[0]), contentType, key: caller.key() };
  const scoped = caller.store !== undefined;
  const basesInScope = !scoped || caller.store === VALID_STORE;
  /** Out of scope: a store made to name another than the key's, else the valid requests already are. */
  const outOfScope = (touchesStore = false, namesKeyStore = false) =>
    scoped && (touchesStore ? !namesKeyStore : !basesInScope);

  if (caller === admin) {
    // No key, or a forged one: 401 before anything else.
    for (const [what, headers] of [
      ['no key', {}],
      ['unknown key', { authorization: 'Bearer cad_0000000000000000000000000000000000' }],
      ['5000-character key', { authorization: `Bearer ${long}` }],
      ['SQL-ish X-API-Key', { 'x-api-key': "' or 1=1 --" }],
    ] as const) {
      problems.push(...(await probe({ ...base, what, key: null, headers }, { writes, expect: [401, 'without a valid key'] })));
    }
  }

  // The valid request is accepted (else the mutations below test nothing). A route whose
  // valid path this file does not know may answer 4xx (its id made up from the schema). Outside
  // a pos key's store, it is a 403 that stores nothing.
  counted = undefined; // they store rows, and do not go through probe()
  for (const body of bases) {
    if (body === undefined && method !== 'GET') continue;
    const sent = { ...base, what: `valid request, ${caller.name}`, body: encode(body) };
    if (outOfScope()) {
      problems.push(...(await probe(sent, { writes, expect: [403, "outside the key's scope"] })));
      continue;
    }
    const headers: Record<string, string> = { authorization: `Bearer ${caller.key()}` };
    if (method !== 'GET') headers['content-type'] = contentType!;
    const res = await api.app.request(sent.url, { method, headers, body: sent.body });
    if (res.status >= (method !== 'GET' || known ? 400 : 500)) {
      problems.push(`the valid request is refused to ${caller.name}: ${method} ${sent.url}${sent.body ? ` ${clip(sent.body)}` : ''} → ${res.status} ${clip(await res.text())}`);
    } else if (caller === admin && writes) {
      // Retried (a lost answer): nothing doubled, nothing changed (but what each call adds).
      const once = await tableContents();
      const again = await api.app.request(sent.url, { method, headers, body: sent.body });
      const twice = await tableContents();
      const added = NEW_EACH_CALL[key]?.tables ?? [];
      const changed = Object.keys(once).filter((t) => once[t] !== twice[t] && !added.includes(t));
      if (again.status >= 500 || changed.length > 0) {
        problems.push(`a retry of the valid request ${changed.length ? `changed ${changed.join(', ')}` : 'failed'}: ${method} ${sent.url}${sent.body ? ` ${clip(sent.body)}` : ''} → ${res.status}, then ${again.status} ${clip(await again.text())}`);
      }
    }
    counted = undefined;
  }

  counted = undefined;

  // Path parameters, one at a time (every value for a store a pos key is scoped to).
  for (const name of Object.keys(pathParams)) {
    const storeParam = scoped && isStoreParam(path, name);
    for (const segment of [...hostileSegments, ...(storeParam ? storeSegments(caller.store!) : [])]) {
      const hostileUrl = urlOf(path, { ...pathParams, [name]: segment }, queryString(query));
      const scope = outOfScope(storeParam, segmentNamesStore(segment, caller.store));
      problems.push(...(await probe({ ...base, url: hostileUrl, what: `path ${name} = ${clip(segment, 40)}` }, { writes, outOfScope: scope })));
    }
  }

  // Query parameters the document does not list, and methods the path does not take.
  for (const extra of ['__proto__=1', 'constructor[prototype]=1', `unknown=${encodeURIComponent(long)}`, 'a%00=1']) {
    const extraUrl = urlOf(path, pathParams, `${queryString(query) || '?'}&${extra}`);
    problems.push(...(await probe({ ...base, url: extraUrl, what: `query ${clip(extra, 40)}` }, { writes, outOfScope: outOfScope() })));
  }
  for (const other of ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']) {
    if (document.paths[path]![other.toLowerCase()]) continue;
    const body = other === 'GET' ? undefined : base.body;
    problems.push(...(await probe({ ...base, method: other, body, what: `method ${other}` }, { writes: other !== 'GET', outOfScope: outOfScope() })));
  }

  // Query parameters from the document, one at a time, plus a repeated one.
  for (const p of op.parameters ?? []) {
    if (p.in !== 'query') continue;
    for (const value of hostileSegments) {
      const hostileUrl = urlOf(path, pathParams, queryString({ ...query, [p.name]: value }));
      problems.push(...(await probe({ ...base, url: hostileUrl, what: `query ${p.name} = ${clip(value, 40)}` }, { writes, outOfScope: outOfScope() })));
    }
    const twiceUrl = urlOf(path, pathParams, `${queryString(query) || '?'}&${p.name}=1&${p.name}=2`);
    problems.push(...(await probe({ ...base, url: twiceUrl, what: `query ${p.name} twice` }, { writes, outOfScope: outOfScope() })));
  }

  // Request bodies: one field at a time, then whole bodies.
  if (json || yamlType) {
    const seed = caller === admin ? key : `${key} as ${caller.name}`;
    for (const b of bases) {
      const storeField = (p: Path) => scoped && isStoreField(p);
      const edges = (p: Path) => (storeField(p) ? storeEdges(caller.store!) : []);
      for (const c of bodyCases(seed, b, caller.valuesPerField, storeField, edges)) {
        const touchesStore = c.field !== undefined && isStoreField(c.field);
        const scope = outOfScope(touchesStore, !c.dropped && namesStore(c.value, caller.store));
        problems.push(...(await probe({ ...base, body: encode(c.body), what: c.label }, { writes, outOfScope: scope })));
      }
    }
    for (const [what, text] of hostileJsonBodies) {
      problems.push(...(await probe({ ...base, body: text as string, contentType: 'application/json', what }, { writes, outOfScope: outOfScope() })));
    }
    const valid = encode(bases[0]);
    for (const [what, type] of [
      ['as text/plain', 'text/plain'],
      ['as form data', 'application/x-www-form-urlencoded'],
      ['without a content-type', undefined],
      ['as JSON with a charset', 'application/json; charset=utf-16'],
    ] as const) {
      problems.push(...(await probe({ ...base, body: valid, contentType: type, what }, { writes, outOfScope: outOfScope() })));
    }
    if (yamlType) {
      for (const [what, text] of [
        ['malformed YAML', 'id: [unclosed\n  name: {'],
        ['YAML null', 'null\n'],
        ['YAML list', '- 1\n- 2\n'],
        ['YAML string', 'hello\n'],
        ['YAML alias bomb', `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n`],
        ['YAML 10000 deep', '['.repeat(10_000) + ']'.repeat(10_000)],
        ['YAML with NUL', `${encode(bases[0])}description: "a\\0b"\n`],
        ['YAML duplicate keys', `${encode(bases[0])}id: again\n`],
        ['YAML custom tag', '!!js/function "function () {}"\n'],
        ['YAML binary', '!!binary AAAA\n'],
      ] as const) {
        problems.push(...(await probe({ ...base, body: text, contentType: yamlType, what }, { writes, outOfScope: outOfScope() })));
      }
    }
  }
  return problems;
}

/**
 * A role the operation does not allow: its valid requests are a 403 that stores nothing, and so
 * is every value of a field naming a store or a manufacturer (the scopes of pos and vendor keys)
 * — a 4xx at least, never an answer.
 */
async function refused(operation: OperationEntry, caller: Caller): Promise<string[]> {
  const { method, path } = operation;
  const { writes, pathParams, query, bases, encode, contentType, url } = requestsOf(operation);
  const problems: string[] = [];
  const base = { method, url, contentType, key: caller.key() };
  const scopeField = (p: Path) => isStoreField(p) || isManufacturerField(p);
  counted = undefined;
  for (const body of bases) {
    // DELETE /v1/keys/{id} too: refused, it revokes nothing.
    const sent = { ...base, body: encode(body), what: `valid request, ${caller.name}` };
    problems.push(...(await probe(sent, { writes, expect: [403, `to ${caller.name}`] })));
    const edges = (p: Path) => (isStoreField(p) ? storeEdges(VALID_STORE) : []);
    for (const c of bodyCases(`${operation.key} refused to ${caller.name}`, body, 0, scopeField, edges)) {
      if (!c.field || !scopeField(c.field)) continue;
      problems.push(...(await probe({ ...base, body: encode(c.body), what: c.label }, { writes, outOfScope: true })));
    }
  }
  for (const name of Object.keys(pathParams)) {
    if (!isStoreParam(path, name)) continue;
    for (const segment of [...hostileSegments, ...storeSegments(VALID_STORE)]) {
      const hostileUrl = urlOf(path, { ...pathParams, [name]: segment }, queryString(query));
      problems.push(...(await probe({ ...base, body: encode(bases[0]), url: hostileUrl, what: `path ${name} = ${clip(segment, 40)}` }, { writes, outOfScope: true })));
    }
  }
  return problems;
}

const report = (key: string, problems: string[]) =>
  expect(problems, `${problems.length} problems on ${key}:\n${problems.slice(0, 30).join('\n')}`).toEqual([]);

// ---------------------------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------------------------
describe('every /v1 operation under hostile input', () => {
  it('the document lists the operations the sweep relies on', () => {
    expect(operations.length).toBeGreaterThanOrEqual(26);
    for (const key of Object.keys(validBodies)) expect(operations.map((o) => o.key), key).toContain(key);
  });

  for (const operation of operations) {
    it(`${operation.key}`, async () => report(operation.key, await sweep(operation, admin)));
  }
});

describe('every /v1 operation under hostile input, with the key of each other role', () => {
  it('the document states the roles of every operation, admin among them', () => {
    for (const { key, op } of operations) {
      const roles = rolesOf(op);
      expect(roles, key).toContain('admin');
      for (const role of roles) expect(['admin', ...OTHER_ROLES], key).toContain(role);
    }
    // The sweep below is worth something only if some operations allow each scoped role.
    for (const role of ['marketer', 'pos']) expect(operations.filter((o) => rolesOf(o.op).includes(role)).length, role).toBeGreaterThan(3);
  });

  for (const operation of operations) {
    const allowed = rolesOf(operation.op);
    const label = OTHER_ROLES.map((role) => `${role} ${allowed.includes(role) ? 'allowed' : 'refused'}`).join(', ');
    it(`${operation.key}: ${label}`, async () => {
      const problems: string[] = [];
      for (const role of OTHER_ROLES) {
        for (const caller of callersOf[role]) {
          problems.push(...(allowed.includes(role) ? await sweep(operation, caller) : await refused(operation, caller)));
        }
      }
      report(operation.key, problems);
    });
  }
});
