import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { md5Hex } from '../../src/lib/md5.ts';

const nodeMd5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

describe('md5Hex', () => {
  it('gives the RFC 1321 test values', () => {
    expect(md5Hex('')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5Hex('abc')).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(md5Hex('message digest')).toBe('f96b697d7cb7938d525a2f31aaf161d0');
  });

  it('agrees with node:crypto at every padding boundary and on multi-byte text', () => {
    for (let n = 0; n <= 200; n++) expect(md5Hex('x'.repeat(n)), `length ${n}`).toBe(nodeMd5('x'.repeat(n)));
    for (const s of ['é', '€uro', '𝄞 clef', 'Ünïcödé|T01|€'.repeat(40)]) expect(md5Hex(s)).toBe(nodeMd5(s));
  });

  it('agrees with node:crypto on seeded random strings, including after a long one grew its buffer', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const long = 'ab€'.repeat(5_000);
    expect(md5Hex(long)).toBe(nodeMd5(long));
    for (let i = 0; i < 500; i++) {
      let s = '';
      const n = Math.floor(random() * 300);
      for (let j = 0; j < n; j++) s += String.fromCodePoint(random() < 0.9 ? 32 + Math.floor(random() * 90) : 0xa0 + Math.floor(random() * 0xd000));
      expect(md5Hex(s)).toBe(nodeMd5(s));
    }
  });
});
