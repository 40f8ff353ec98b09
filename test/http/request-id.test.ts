import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { useTestDeps } from '../support/db.ts';

const getDeps = useTestDeps();

/**
 * X-Request-Id: a client's id is kept only when it is a sane token (1–128 of A-Z a-z 0-9 . _ : -),
 * else the app makes its own; the response's header, a problem's requestId and the log all carry
 * the one used. What a client sends must never reach the log as sent otherwise (log injection:
 * a line break forging a log line, escape codes, kilobytes of junk).
 */
function appLogging() {
  const deps = getDeps();
  const logged: Array<Record<string, unknown> | undefined> = [];
  const app = createApp({
    ...deps,
    logger: { ...deps.logger, error: (_m: string, fields?: Record<string, unknown>) => void logged.push(fields) },
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  return { app, logged };
}

/**
 * A request carrying `id` as its X-Request-Id exactly: fetch's Headers refuse a line break, but a
 * runtime or proxy in front of the app may not, so the header is handed through as is.
 */
function requestWithId(id: string): Request {
  const req = new Request('http://localhost/boom');
  const headers = new Headers(req.headers);
  const get = headers.get.bind(headers);
  Object.defineProperty(headers, 'get', { value: (name: string) => (name.toLowerCase() === 'x-request-id' ? id : get(name)) });
  Object.defineProperty(req, 'headers', { value: headers });
  return req;
}

async function boom(id: string) {
  const { app, logged } = appLogging();
  const res = await app.fetch(requestWithId(id));
  expect(res.status).toBe(500);
  const body = (await res.json()) as { requestId: string };
  expect(logged).toHaveLength(1);
  return { header: res.headers.get('x-request-id'), body: body.requestId, logged: logged[0]!.requestId };
}

describe('X-Request-Id', () => {
  it('keeps a sane token as sent: in the response header, the problem and the log', async () => {
    for (const id of ['a', 'pos-3.T02:20261124-000123_7', '0f8e1c2a-59f4-4b0e-9a55-1a2b3c4d5e6f', 'x'.repeat(128)]) {
      const r = await boom(id);
      expect(r, id).toEqual({ header: id, body: id, logged: id });
    }
  });

  it('replaces anything else with an id of its own, and says which in the response header', async () => {
    const hostile = [
      'abc\n{"level":"error","msg":"forged"}',
      'abc\r\nX-Injected: 1',
      'x'.repeat(10 * 1024),
      'x'.repeat(129),
      '\u001b[31mred',
      'a b',
      'a=b',
      'a,b',
      'café',
      '',
      ' ',
    ];
    const seen = new Set<string>();
    for (const id of hostile) {
      const r = await boom(id);
      const what = JSON.stringify(id.slice(0, 40));
      expect(r.logged, what).not.toBe(id);
      expect(r.header, what).toBe(r.logged);
      expect(r.body, what).toBe(r.logged);
      expect(String(r.logged), what).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      seen.add(String(r.logged));
    }
    expect(seen.size).toBe(hostile.length); // generated afresh each time
  });

  it('makes one when none is sent', async () => {
    const { app } = appLogging();
    const res = await app.request('/healthz');
    expect(res.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  });
});
