import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorsFileWriter } from '../../src/ingest/errors-file.ts';
import { importBaskets, importMembers, type RejectedRow } from '../../src/ingest/import-csv.ts';
import { useTestDeps } from '../support/db.ts';
import { gtin13, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
beforeAll(async () => seedCatalogue(getDeps()));

/**
 * A slow errors file: a Writable of 256 bytes' high-water mark that takes a macrotask per write,
 * so write() reports backpressure (false) as a disk slower than the parser does. The importer's
 * onReject returns the wait for 'drain' then, as the CLI's does.
 */
function slowSink() {
  const lines: string[] = [];
  let maxBuffered = 0;
  const out = new Writable({
    highWaterMark: 256,
    decodeStrings: false,
    write(chunk: string, _enc, done) {
      setTimeout(() => {
        lines.push(chunk);
        done();
      }, 0);
    },
  });
  const onReject = (row: RejectedRow): Promise<void> | undefined => {
    const ok = out.write(`${row.line},${row.field}\n`);
    maxBuffered = Math.max(maxBuffered, out.writableLength);
    return ok ? undefined : new Promise<void>((resolve) => out.once('drain', resolve));
  };
  return { out, lines, onReject, maxBuffered: () => maxBuffered };
}

const A = gtin13(1);

describe('rejected rows under backpressure', () => {
  it('the basket import waits for the errors file to drain, and every rejected row arrives in order', async () => {
    const n = 3_000;
    const rows = ['txn,ts,gtin,qty'];
    const bad: number[] = [];
    for (let i = 0; i < n; i++) {
      // every third basket is good; the others have a bad GTIN
      const ok = i % 3 === 0;
      rows.push(`bp${i},2026-11-20T10:00:00-05:00,${ok ? A : '123'},1`);
      if (!ok) bad.push(i + 2);
    }
    const sink = slowSink();
    const summary = await importBaskets(getDeps(), [rows.join('\n')], {
      timeZone: 'America/New_York',
      batchSize: 200,
      onReject: sink.onReject,
    });
    await new Promise<void>((resolve) => sink.out.end(resolve));
    expect(summary).toMatchObject({ rows: n, rejected: bad.length, created: n / 3 });
    expect(sink.lines.map((l) => Number(l.split(',')[0]))).toEqual(bad);
    expect(sink.lines.every((l) => l.endsWith(',gtin\n'))).toBe(true);
    // it waited: the stream never held more than its high-water mark and a row (all 2,000 rows
    // without waiting, some 30 kB)
    expect(sink.maxBuffered()).toBeLessThan(256 + 64);
    const stored = await sql<{ n: number }>`select count(*)::int as n from baskets where txn_id like 'bp%'`.execute(getDeps().db);
    expect(stored.rows[0]!.n).toBe(n / 3);
  });

  it('the member import waits too', async () => {
    const rows = ['member_number,household_size'];
    for (let i = 0; i < 1_000; i++) rows.push(`BP${i},${i % 2 ? 'many' : '2'}`);
    const sink = slowSink();
    const summary = await importMembers(getDeps(), [rows.join('\n')], { timeZone: 'UTC', onReject: sink.onReject });
    await new Promise<void>((resolve) => sink.out.end(resolve));
    expect(summary).toMatchObject({ rows: 1_000, imported: 500, rejected: 500 });
    expect(sink.lines.map((l) => Number(l.split(',')[0]))).toEqual(Array.from({ length: 500 }, (_, i) => 2 * i + 3));
    expect(sink.maxBuffered()).toBeLessThan(256 + 64);
  });

  it("the CLI's errors file writer asks the import to wait while the file is full, and fails on a write error", async () => {
    const chunks: string[] = [];
    let maxBuffered = 0;
    const out = new Writable({
      highWaterMark: 128,
      decodeStrings: false,
      write(chunk: string, _enc, done) {
        maxBuffered = Math.max(maxBuffered, out.writableLength);
        setTimeout(() => {
          chunks.push(chunk);
          done();
        }, 0);
      },
    });
    const rows = ['txn,ts,gtin,qty'];
    for (let i = 0; i < 500; i++) rows.push(`ew${i},2026-11-20T10:00:00-05:00,x${i},1`);
    const onReject = errorsFileWriter(() => out);
    const summary = await importBaskets(getDeps(), [rows.join('\n')], { timeZone: 'America/New_York', onReject });
    await new Promise<void>((resolve) => out.end(resolve));
    expect(summary.rejected).toBe(500);
    const text = chunks.join('').split('\n');
    expect(text[0]).toBe('line,field,reason,row');
    expect(text.slice(1, -1).map((l) => l.split(',')[0])).toEqual(Array.from({ length: 500 }, (_, i) => String(i + 2)));
    expect(text[1]).toMatch(/^2,gtin,[^,]+,"ew0,2026-11-20T10:00:00-05:00,x0,1"$/);
    expect(maxBuffered).toBeLessThan(128 + 200);

    // a sink that fails (a full disk) fails the import instead of leaving it waiting for 'drain'
    const broken = new Writable({
      highWaterMark: 16,
      write(_chunk, _enc, done) {
        setTimeout(() => done(new Error('ENOSPC: no space left on device')), 0);
      },
    });
    broken.on('error', () => {});
    await expect(
      importBaskets(getDeps(), [rows.join('\n')], { timeZone: 'America/New_York', onReject: errorsFileWriter(() => broken) }),
    ).rejects.toThrow('ENOSPC');
  });
});
