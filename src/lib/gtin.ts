/**
 * GTIN-8/12/13/14 handling. Every GTIN is stored in its 14-digit form (left-padded with zeros),
 * which is how GS1 compares them; the check digit is the GS1 mod-10 weighting 3,1,3,1… from the
 * right of the body.
 */
export function gtinCheckDigit(body: string): number {
  let sum = 0;
  for (let i = body.length - 1, weight = 3; i >= 0; i--, weight = 4 - weight) {
    sum += (body.charCodeAt(i) - 48) * weight;
  }
  return (10 - (sum % 10)) % 10;
}

export type GtinResult = { ok: true; gtin: string } | { ok: false; message: string };

export function parseGtin(raw: string): GtinResult {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) return { ok: false, message: 'a GTIN has digits only' };
  if (![8, 12, 13, 14].includes(text.length)) {
    return { ok: false, message: `a GTIN has 8, 12, 13 or 14 digits, not ${text.length}` };
  }
  const expected = gtinCheckDigit(text.slice(0, -1));
  if (expected !== text.charCodeAt(text.length - 1) - 48) {
    return { ok: false, message: `bad check digit: expected ${expected}` };
  }
  return { ok: true, gtin: text.padStart(14, '0') };
}
