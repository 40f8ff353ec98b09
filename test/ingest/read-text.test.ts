import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTextChunks } from '../../src/ingest/node.ts';

const dir = mkdtempSync(join(tmpdir(), 'cadence-read-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(chunks: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

/** What Node's own UTF-8 reading gives, chunk for chunk. */
const viaNode = (file: string, highWaterMark: number) =>
  collect(createReadStream(file, { encoding: 'utf8', highWaterMark }) as AsyncIterable<string>);

describe('reading an import file as text', () => {
  const files: [name: string, bytes: Buffer][] = [
    // ASCII runs between characters of 2, 3 and 4 bytes, so that chunk edges fall inside them and
    // ASCII chunks follow chunks that end inside a character
    ['mixed', Buffer.from(`card,name\n1234,José\n${'x'.repeat(9)},€ 3\n5678,😀 ok\n${'a,b\n'.repeat(7)}ß`, 'utf8')],
    ['ascii', Buffer.from(`ts,gtin,qty\n${'2026-02-01T10:00:00Z,4006381333931,1\n'.repeat(5)}`, 'utf8')],
    ['bom', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('txn,ts\nT1,2026-02-01\n')])],
    // not UTF-8: a cut 3-byte character followed by ASCII, a lone continuation byte, a cut 4-byte
    // character at the very end
    ['broken', Buffer.concat([Buffer.from('ab,'), Buffer.from([0xe2, 0x82]), Buffer.from('cd\n,'), Buffer.from([0x80]), Buffer.from('ef\n'), Buffer.from([0xf0, 0x9f, 0x98])])],
  ];

  for (const [name, bytes] of files) {
    it(`gives Node's UTF-8 text chunk for chunk, and counts every byte (${name})`, async () => {
      const file = join(dir, `${name}.csv`);
      writeFileSync(file, bytes);
      for (const highWaterMark of [1, 2, 3, 5, 7, 16, 1 << 20]) {
        let counted = 0;
        const ours = await collect(readTextChunks(file, { highWaterMark, onBytes: (n) => (counted += n) }));
        const theirs = await viaNode(file, highWaterMark);
        expect(ours.join(''), `highWaterMark ${highWaterMark}`).toBe(theirs.join(''));
        expect(ours.filter((c) => c !== ''), `highWaterMark ${highWaterMark}`).toEqual(theirs.filter((c) => c !== ''));
        expect(counted).toBe(statSync(file).size);
      }
    });
  }
});
