/** Source of randomness for secrets and ids. Domain code asks `deps.ids`; tests may seed it. */
export interface Ids {
  /** A random string of `bytes` random bytes, base32 (lowercase, no padding). */
  token(bytes: number): string;
}

const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';

export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

export const cryptoIds: Ids = {
  token(bytes) {
    const buf = new Uint8Array(bytes);
    crypto.getRandomValues(buf);
    return base32(buf);
  },
};
