import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { stringify as yamlText } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { listDocumentJson } from '../../src/lists/document.ts';
import { useTestDeps } from '../support/db.ts';
import { docDeps } from '../support/doc-deps.ts';
import type { appWithKeys } from '../support/factories.ts';
import { sampleList } from '../lists/fixtures.ts';
import { seedChain, validBodies, validPathParams, type ChainIds } from '../support/valid-requests.ts';

/**
 * The contract POS integrators and vendors generate clients from: the served /openapi.json is
 * valid OpenAPI by the official schema (an independent validator, not our own reading), every
 * /v1 operation states its security and the errors any route can give, and the app answers only
 * what the document says. Real requests — a valid one per operation, and the ways each goes wrong:
 * no key, a role it does not allow, a URL or body it cannot take, an unknown id, a body too large,
 * each body field set wrong — and for each answer: its status is one the document lists for that
 * operation, its media type is one listed for that status, its required headers are there, and
 * its JSON body validates against the schema listed there (JSON Schema 2020-12, as OpenAPI 3.1
 * uses: `type: [T, 'null']` for nullable, no `nullable` keyword), every object closed so that a
 * field the document does not name fails too. And the other way: a body the app takes is one the
 * document's request schema lets a client send.
 */

interface Schema {
  [key: string]: unknown;
}
interface MediaType {
  schema?: Schema;
}
interface DocResponse {
  description?: string;
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, MediaType>;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, DocResponse>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes?: Record<string, Record<string, unknown>> };
}

const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;
let ids: ChainIds;
let doc: Document;

beforeAll(async () => {
  ({ api, ids } = await seedChain(getDeps()));
  const res = await api.app.request('/openapi.json');
  doc = (await res.json()) as Document;
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const operationsOf = (d: Document) =>
  Object.entries(d.paths)
    .filter(([path]) => path.startsWith('/v1/'))
    .flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ method: method.toUpperCase(), path, op, key: `${method.toUpperCase()} ${path}` })),
    );

// ---------------------------------------------------------------------------------------------
// Checking one answer against the document
// ---------------------------------------------------------------------------------------------
// ajv-formats is CommonJS: its default export arrives as the module under Node's ESM interop.
const addFormats = ((addFormatsImport as unknown as { default?: typeof addFormatsImport }).default ??
  addFormatsImport) as typeof addFormatsImport;
let ajv: Ajv2020 | undefined;
/** Components used as a branch of an allOf (left open, see closed()). */
let allOfMembers: ReadonlySet<string> = new Set();
const validators = new Map<string, ValidateFunction>();
const COMPONENTS = 'https://cadence.test/openapi.json';

/**
 * Every object schema closed (`unevaluatedProperties: false`), so that a field the app sends and
 * the document does not name fails too: a client generated from the document would drop it.
 * Not the branches of an allOf, nor components used as one: each branch sees only its own
 * fields; the object holding the allOf is closed over all of them.
 */
function closed(schema: Schema, allOfMembers: ReadonlySet<string>, name?: string): Schema {
  const close = (node: unknown, member: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => close(n, member));
    if (typeof node !== 'object' || node === null) return node;
    const out: Schema = {};
    for (const [k, v] of Object.entries(node)) out[k] = close(v, k === 'allOf');
    if (out.properties && !member && !('additionalProperties' in out)) out.unevaluatedProperties = false;
    return out;
  };
  return close(schema, name !== undefined && allOfMembers.has(name)) as Schema;
}

/** The document's schema at `pointer`, compiled once; its `#/components/...` refs resolve in the document. */
function validatorAt(pointer: string, schema: Schema): ValidateFunction {
  const rebase = (s: Schema) => JSON.parse(JSON.stringify(s).replaceAll('"#/components/', `"${COMPONENTS}#/components/`)) as Schema;
  if (!ajv) {
    allOfMembers = new Set(
      [...JSON.stringify(doc).matchAll(/"allOf":\[\{"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!),
    );
    // strict: false for OpenAPI's own annotations (example, discriminator…), not JSON Schema's.
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const schemas = Object.fromEntries(Object.entries(doc.components.schemas).map(([name, s]) => [name, closed(s, allOfMembers, name)]));
    ajv.addSchema({ $id: COMPONENTS, components: { ...doc.components, schemas } });
  }
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.compile(closed(rebase(schema), allOfMembers));
    validators.set(pointer, validate);
  }
  return validate;
}

let checked = 0;
const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

interface Sent {
  method: string;
  url: string;
  what: string;
  key?: string | null;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * Sends one request and checks its answer against operation `key`'s documented responses.
 * Returns the status (for the callers that expect one) and the problems found.
 */
async function exchange(
  key: string,
  op: Operation,
  sent: Sent,
  app = api.app,
): Promise<{ status: number; text: string; headers: Headers; problems: string[] }> {
  const headers: Record<string, string> = { ...(sent.headers ?? {}) };
  const apiKey = sent.key === undefined ? api.keys.admin : sent.key;
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  if (sent.contentType) headers['content-type'] = sent.contentType;
  const res = await app.request(sent.url, { method: sent.method, headers, body: sent.body });
  const text = await res.text();
  checked++;
  const where = `${sent.method} ${clip(sent.url, 120)} [${sent.what}] → ${res.status} ${clip(text)}`;
  const problems: string[] = [];
  const documented = op.responses[String(res.status)] ?? op.responses[`${String(res.status)[0]}XX`] ?? op.responses.default;
  if (!documented) {
    problems.push(`status ${res.status} not documented for ${key} (documents ${Object.keys(op.responses).join(', ')}): ${where}`);
    return { status: res.status, text, headers: res.headers, problems };
  }
  for (const [name, header] of Object.entries(documented.headers ?? {})) {
    if (header.required && !res.headers.has(name)) problems.push(`required header ${name} missing: ${where}`);
  }
  if (text === '' || res.status === 304 || res.status === 204) return { status: res.status, text, headers: res.headers, problems };
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const content = documented.content?.[mediaType];
  if (!content) {
    problems.push(`${mediaType || 'no content-type'} not documented for ${res.status} (documents ${Object.keys(documented.content ?? {}).join(', ') || 'no body'}): ${where}`);
    return { status: res.status, text, headers: res.headers, problems };
  }
  if (!mediaType.endsWith('json')) return { status: res.status, text, headers: res.headers, problems };
  if (!content.schema) {
    problems.push(`no schema documented for ${res.status} ${mediaType}: ${where}`);
    return { status: res.status, text, headers: res.headers, problems };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    problems.push(`${mediaType} that is not JSON: ${where}`);
    return { status: res.status, text, headers: res.headers, problems };
  }
  const pointer = `${key} ${res.status} ${mediaType}`;
  const validate = validatorAt(pointer, content.schema);
  if (!validate(body)) {
    const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`);
    problems.push(`body does not match the documented schema of ${res.status} ${mediaType} (${errors.join('; ')}): ${where}`);
  }
  return { status: res.status, text, headers: res.headers, problems };
}

// ---------------------------------------------------------------------------------------------
// The document itself
// ---------------------------------------------------------------------------------------------
describe('the OpenAPI document', () => {
  it('is valid OpenAPI by the official schema, every $ref resolving', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(structuredClone(doc) as never);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('every /v1 operation has an operationId and states its API key security and the errors any route can give', () => {
    // The key goes as Authorization: Bearer or as X-API-Key (src/http/auth.ts takes both): each
    // operation lists both schemes as alternatives, with the same roles.
    expect(doc.components.securitySchemes?.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes?.apiKeyHeader).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    const missing: string[] = [];
    const problem = { schema: { $ref: '#/components/schemas/Problem' } };
    const operationIds = new Map<string, string>();
    for (const { key, op } of operationsOf(doc)) {
      const roles = op.security?.[0]?.apiKey;
      const both = [{ apiKey: roles }, { apiKeyHeader: roles }];
      if (!roles?.includes('admin') || JSON.stringify(op.security) !== JSON.stringify(both)) {
        missing.push(`${key}: security is not [{ apiKey: [roles] }, { apiKeyHeader: [roles] }]: ${JSON.stringify(op.security)}`);
      }
      const takesBody = op.requestBody !== undefined;
      const takesParams = (op.parameters ?? []).length > 0;
      const hasPathParams = (op.parameters ?? []).some((p) => p.in === 'path');
      const expected = [
        400, // a URL holding %00 (src/http/text.ts), malformed JSON
        401,
        403,
        ...(takesBody ? [413, 422] : []),
        ...(takesParams ? [422] : []),
        ...(hasPathParams ? [404] : []),
        500, // unexpected: problem+json with the request id to quote
      ];
      for (const status of new Set(expected)) {
        const r = op.responses[String(status)];
        if (!r) missing.push(`${key}: ${status} not documented`);
        else if (JSON.stringify(r.content) !== JSON.stringify({ 'application/problem+json': problem })) {
          missing.push(`${key}: ${status} is not application/problem+json with the Problem schema: ${JSON.stringify(r.content)}`);
        }
      }
      const id = (op as { operationId?: unknown }).operationId;
      if (typeof id !== 'string' || !/^[a-z][A-Za-z]+$/.test(id)) missing.push(`${key}: no camelCase operationId (clients name their methods by it)`);
      else if (operationIds.has(id)) missing.push(`${key}: operationId ${id} is also ${operationIds.get(id)}'s`);
      else operationIds.set(id, key);
      for (const [status, r] of Object.entries(op.responses)) {
        if (!r.description) missing.push(`${key}: ${status} has no description`);
        for (const [type, media] of Object.entries(r.content ?? {})) if (!media.schema) missing.push(`${key}: ${status} ${type} has no schema`);
      }
    }
    expect(missing, missing.join('\n')).toEqual([]);
  });

  it('no schema is an allOf no value can match', () => {
    // zod-openapi writes `.nullable()` of a component as allOf [$ref, { type: [..., 'null'] }]
    // (null fails the $ref) and `.extend()` of a .strict() component as allOf [$ref, extension]
    // with both closed (each refuses the other's fields). The answers checked below would catch
    // these only where the data has such a value (a list with offers, a run still running).
    const schemas = doc.components.schemas;
    const resolve = (s: Schema): Schema => (typeof s.$ref === 'string' ? resolve(schemas[s.$ref.split('/').pop()!]!) : s);
    const found: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`));
      if (typeof node !== 'object' || node === null) return;
      const branches = (node as Schema).allOf as Schema[] | undefined;
      if (branches) {
        const closed = branches.filter((b) => resolve(b).additionalProperties === false);
        if (closed.length > 0 && branches.length > 1) found.push(`${at}: allOf of ${branches.length} with ${closed.length} closed`);
        const nullBranch = branches.some((b) => Array.isArray(b.type) && b.type.includes('null'));
        if (nullBranch && branches.some((b) => b.$ref)) found.push(`${at}: allOf [$ref, nullable] refuses null`);
      }
      for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`);
    };
    walk(doc, '#');
    expect(found, found.join('\n')).toEqual([]);
  });

  it('the Problem schema is the shape http/problem.ts sends', async () => {
    const res = await api.app.request('/v1/keys');
    const body = await res.json();
    expect(Object.keys(body as object).sort()).toEqual(Object.keys(doc.components.schemas.Problem!.properties as object).sort());
  });
});

// ---------------------------------------------------------------------------------------------
// Real requests
// ---------------------------------------------------------------------------------------------
/** Operations are read at collection time (building the app needs no database) so each is a test. */
const collected = operationsOf((await (await createApp(docDeps).request('/openapi.json')).json()) as Document);

/** Values for one body field: the wrong type, out of range, unknown references, and nothing. */
const fieldValues: [string, unknown][] = [
  ['null', null],
  ['-1', -1],
  ['1.5', 1.5],
  ['999999', 999999],
  ['2**31', 2 ** 31],
  ["''", ''],
  ["'zzz-unknown'", 'zzz-unknown'],
  ["'a\\u0000b'", 'a\u0000b'],
  ['[]', []],
  ['{}', {}],
];
type Path = (string | number)[];
function fieldPaths(value: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, i], ...fieldPaths(v, [...prefix, i])]);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...fieldPaths(v, [...prefix, k])]);
  }
  return [];
}
function withField(base: unknown, path: Path, value: unknown | typeof DROP): unknown {
  const copy = structuredClone(base);
  let parent = copy as Record<string | number, unknown>;
  for (const part of path.slice(0, -1)) parent = parent[part] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value !== DROP) parent[last] = value;
  else if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete parent[last];
  return copy;
}
const DROP = Symbol('drop');
const show = (path: Path) => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');

/** Path parameter values well formed but naming nothing, and values not well formed. */
// Not among the field values below: those make a store 999999, and a product or member of 'zzz-unknown'.
const unknownIds: Record<string, string> = { id: '7777777', memberNumber: 'M7777777', ref: '777777777', runId: '7777777' };
const badSegments = ['abc', '-1', '0', '1.5', '99999999999999999999', encodeURIComponent('é😀'), 'x'.repeat(300)];
const badQueryValues = ['abc', '-1', '0', '1.5', '99999999999999999999', ''];

describe('every /v1 operation answers only what the document lists', () => {
  it('the sweep covers every operation of the document', () => {
    expect(collected.length).toBeGreaterThanOrEqual(31);
    expect(operationsOf(doc).map((o) => o.key)).toEqual(collected.map((o) => o.key));
  });

  for (const { key, method, path } of collected) {
    it(key, async () => {
      const op = doc.paths[path]![method.toLowerCase()]!;
      const problems: string[] = [];
      const expectStatus = (got: { status: number; text: string }, want: number, what: string) => {
        if (got.status !== want) problems.push(`${what}: expected ${want}, got ${got.status} ${clip(got.text)}`);
      };
      const content = op.requestBody?.content ?? {};
      const json = 'application/json' in content;
      const yamlType = Object.keys(content).find((t) => t.includes('yaml'));
      const contentType = json ? 'application/json' : yamlType;
      const encode = (body: unknown) => (body === undefined ? undefined : json ? JSON.stringify(body) : yamlText(body));
      const params = validPathParams(ids)[key] ?? {};
      const urlOf = (p: Record<string, string>, query = '') => `/v1${path.slice(3)}`.replace(/\{(\w+)\}/g, (_, n: string) => p[n]!) + query;
      const url = urlOf(params);
      const bases = validBodies[key]?.() ?? [undefined];
      const send = async (sent: Omit<Sent, 'method'> & { method?: string }, app = api.app) => {
        const sentType = sent.contentType ?? (sent.body === undefined ? undefined : contentType);
        const r = await exchange(key, op, { method, contentType: sentType, ...sent }, app);
        problems.push(...r.problems);
        // A body the app took must be one the document lets a client send: else a client that checks
        // its requests against the document (most generated ones) cannot send it.
        const requestSchema = sentType ? op.requestBody?.content[sentType]?.schema : undefined;
        if (r.status < 300 && sent.body !== undefined && requestSchema && !(key === 'POST /v1/baskets' && sent.body.includes('"baskets"'))) {
          const validate = validatorAt(`${key} request ${sentType}`, requestSchema);
          if (!validate(json ? JSON.parse(sent.body) : sent.body)) {
            const errors = (validate.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`);
            problems.push(`taken (${r.status}) but refused by the documented request schema (${errors.join('; ')}): [${sent.what}] ${clip(sent.body)}`);
          }
        }
        return r;
      };
      const roles = op.security?.[0]?.apiKey ?? [];

      // Valid requests: admin, and every other role the operation allows (a pos key of the
      // valid requests' store, and of another store: out of its scope).
      for (const body of bases) {
        const ok = await send({ url, what: 'valid request', body: encode(body) });
        if (ok.status >= 400) problems.push(`the valid request is refused: ${clip(ok.text)}`);
        if (roles.includes('marketer')) await send({ url, what: 'valid request, marketer', key: api.keys.marketer, body: encode(body) });
        if (roles.includes('pos')) {
          await send({ url, what: 'valid request, pos of store 1', key: api.keys.pos1, body: encode(body) });
          const other = await send({ url, what: 'valid request, pos of store 2', key: api.keys.pos2, body: encode(body) });
          if (other.status < 400 && key !== 'POST /v1/baskets') problems.push(`a pos key of store 2 got ${other.status}`);
        }
      }
      const body = encode(bases[0]);

      // 401 without a key, or with an unknown one; 403 for a role the operation does not allow.
      expectStatus(await send({ url, what: 'no key', key: null, body }), 401, 'no key');
      expectStatus(await send({ url, what: 'unknown key', key: 'cad_0000000000000000000000000000000000', body }), 401, 'unknown key');
      expectStatus(await send({ url, what: 'vendor key', key: api.keys.vendor, body }), 403, 'vendor key');
      if (!roles.includes('marketer')) expectStatus(await send({ url, what: 'marketer key', key: api.keys.marketer, body }), 403, 'marketer key');
      if (!roles.includes('pos')) expectStatus(await send({ url, what: 'pos key', key: api.keys.pos1, body }), 403, 'pos key');

      // 400: a URL holding NUL.
      expectStatus(await send({ url: `${url}?note=a%00b`, what: 'URL with %00', body }), 400, 'URL with %00');

      // Path parameters: unknown ids (404) and malformed ones.
      for (const name of Object.keys(params)) {
        if (unknownIds[name]) {
          const r = await send({ url: urlOf({ ...params, [name]: unknownIds[name]! }), what: `path ${name} unknown`, body });
          expectStatus(r, 404, `path ${name} = ${unknownIds[name]}`);
        }
        for (const segment of badSegments) await send({ url: urlOf({ ...params, [name]: segment }), what: `path ${name} = ${clip(segment, 20)}`, body });
      }

      // Query parameters, each set wrong.
      for (const p of op.parameters ?? []) {
        if (p.in !== 'query') continue;
        for (const value of badQueryValues) await send({ url: `${url}?${p.name}=${value}`, what: `query ${p.name} = ${value}`, body });
      }

      if (contentType) {
        // 400 malformed, 422 not the shape, 413 too large (on an app with a small limit).
        if (json) {
          expectStatus(await send({ url, what: 'malformed JSON', body: '{"a": ' }), 400, 'malformed JSON');
          expectStatus(await send({ url, what: 'a JSON array', body: '[]' }), 422, 'a JSON array');
          expectStatus(await send({ url, what: 'text that cannot be stored', body: '{"note": "a\\u0000b"}' }), 422, 'text holding NUL');
        } else {
          await send({ url, what: 'malformed YAML', body: 'id: [unclosed\n  name: {' });
          await send({ url, what: 'a YAML list', body: '- 1\n- 2\n' });
        }
        await send({ url, what: 'as text/plain', body, contentType: 'text/plain' });
        await send({ url, what: 'without a content-type', body, contentType: '' });
        const small = createApp({ ...getDeps(), config: { ...getDeps().config, MAX_BODY_BYTES: 64 } });
        expectStatus(await send({ url, what: 'body over MAX_BODY_BYTES', body: encode({ pad: 'x'.repeat(100) }) }, small), 413, 'body too large');

        // Each body field set wrong, or left out.
        for (const base of bases) {
          for (const field of fieldPaths(base)) {
            for (const [label, value] of fieldValues) {
              await send({ url, what: `${show(field)} = ${label}`, body: encode(withField(base, field, value)) });
            }
            await send({ url, what: `${show(field)} left out`, body: encode(withField(base, field, DROP)) });
          }
        }
      }
      expect(problems, `${problems.length} problems on ${key}:\n${problems.slice(0, 25).join('\n')}`).toEqual([]);
    });
  }
});

describe('the answers beyond the first', () => {
  const op = (key: string) => {
    const [method, path] = key.split(' ');
    return doc.paths[path!]![method!.toLowerCase()]!;
  };
  const check = async (key: string, sent: Omit<Sent, 'method'>) => {
    const r = await exchange(key, op(key), { method: key.split(' ')[0]!, ...sent });
    expect(r.problems).toEqual([]);
    return r;
  };

  it('baskets: created, duplicate, conflict, batch', async () => {
    const basket = validBodies['POST /v1/baskets']!()[0] as { txnId: string; lines: { qty: number }[] };
    const b = { ...basket, txnId: 'contract-basket' };
    const body = JSON.stringify(b);
    expect((await check('POST /v1/baskets', { url: '/v1/baskets', what: 'new', body, contentType: 'application/json' })).status).toBe(201);
    expect((await check('POST /v1/baskets', { url: '/v1/baskets', what: 'again', body, contentType: 'application/json' })).status).toBe(200);
    const other = JSON.stringify({ ...b, lines: b.lines.map((l) => ({ ...l, qty: l.qty + 1 })) });
    expect((await check('POST /v1/baskets', { url: '/v1/baskets', what: 'conflict', body: other, contentType: 'application/json' })).status).toBe(409);
    const batch = JSON.stringify({ baskets: [b, { ...b, txnId: 'contract-batch' }, { storeId: 'x' }] });
    expect((await check('POST /v1/baskets', { url: '/v1/baskets', what: 'batch', body: batch, contentType: 'application/json' })).status).toBe(200);
  });

  for (const job of ['analyse', 'lists'] as const) {
    it(`jobs/${job}: 202 with wait: false, the running run, and a second start while it runs`, async () => {
      const key = `POST /v1/jobs/${job}`;
      const request = job === 'analyse' ? { asOf: '2026-11-24T05:00:00Z', wait: false } : { periodStart: '2026-11-16', wait: false };
      const started = await check(key, { url: `/v1/jobs/${job}`, what: 'wait: false', body: JSON.stringify(request), contentType: 'application/json' });
      expect(started.status).toBe(202);
      const runId = JSON.parse(started.text).runId as number;
      await check(key, { url: `/v1/jobs/${job}`, what: 'while running', body: JSON.stringify(request), contentType: 'application/json' });
      for (let i = 0; i < 400; i++) {
        const run = await check(`GET /v1/jobs/${job}/runs/{runId}`, { url: `/v1/jobs/${job}/runs/${runId}`, what: 'poll' });
        await check(`GET /v1/jobs/${job}/runs`, { url: `/v1/jobs/${job}/runs?limit=2`, what: 'runs' });
        if (JSON.parse(run.text).status !== 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
  }

  it('offer file: 304 for the ETag it gave', async () => {
    const key = 'GET /v1/stores/{id}/offer-file';
    const first = await check(key, { url: '/v1/stores/1/offer-file', what: 'file' });
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await check(key, { url: '/v1/stores/1/offer-file', what: 'If-None-Match', headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
  });

  it('lists: the PDF forms', async () => {
    const byRef = await check('GET /v1/lists/{ref}', { url: `/v1/lists/${ids.listId}.pdf`, what: 'pdf' });
    expect(byRef.headers.get('content-type')).toBe('application/pdf');
    const current = await check('GET /v1/members/{memberNumber}/lists/{which}', { url: '/v1/members/M0000001/lists/current.pdf?paper=a4', what: 'pdf' });
    expect(current.status).toBe(200);
  });

  it("lists: a full list's JSON (due items with offers, rewards, a recipe, a card) is what the document says", () => {
    // The chain's list is empty; the document's items and nullable parts need a full one.
    const schema = op('GET /v1/lists/{ref}').responses['200']!.content!['application/json']!.schema!;
    const validate = validatorAt('GET /v1/lists/{ref} 200 application/json', schema);
    for (const list of [sampleList(1), sampleList(2, { content: null, cardNumber: null })]) {
      const body = JSON.parse(JSON.stringify(listDocumentJson(list)));
      expect(body.dueSoon.length * body.offers.length * body.rewards.length).toBeGreaterThan(0);
      expect(validate(body), JSON.stringify(validate.errors?.slice(0, 5))).toBe(true);
    }
  });

  it('keys: a revoked key is gone (404)', async () => {
    const created = await check('POST /v1/keys', { url: '/v1/keys', what: 'create', body: JSON.stringify({ name: 'temp', role: 'admin' }), contentType: 'application/json' });
    const id = JSON.parse(created.text).id as number;
    expect((await check('DELETE /v1/keys/{id}', { url: `/v1/keys/${id}`, what: 'revoke' })).status).toBe(200);
    expect((await check('DELETE /v1/keys/{id}', { url: `/v1/keys/${id}`, what: 'again' })).status).toBe(404);
  });

  it('checked enough answers to mean something', () => {
    expect(checked).toBeGreaterThan(1000);
  });
});
