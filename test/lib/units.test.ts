import { describe, expect, it } from 'vitest';
import { parseGtin, gtinCheckDigit } from '../../src/lib/gtin.ts';
import { epochText, localToInstant, parseInstant } from '../../src/lib/time.ts';
import { readCsv, csvLine } from '../../src/ingest/csv.ts';

describe('GTIN', () => {
  it('verifies check digits of every length and pads to 14', () => {
    expect(parseGtin('96385074')).toEqual({ ok: true, gtin: '00000096385074' });
    expect(parseGtin('036000291452')).toEqual({ ok: true, gtin: '00036000291452' });
    expect(parseGtin('4006381333931')).toEqual({ ok: true, gtin: '04006381333931' });
    expect(parseGtin('10012345678902')).toEqual({ ok: true, gtin: '10012345678902' });
    expect(parseGtin('4006381333932')).toEqual({ ok: false, message: 'bad check digit: expected 1' });
    expect(parseGtin('40063813339')).toMatchObject({ ok: false });
    expect(parseGtin('40063813339a')).toMatchObject({ ok: false });
    expect(gtinCheckDigit('400638133393')).toBe(1);
  });
});

describe('local times in a zone', () => {
  it('reads dates and times in the zone, across DST', () => {
    expect(localToInstant('2026-01-15', 'America/New_York')).toBe('2026-01-15T05:00:00.000Z');
    expect(localToInstant('2026-07-15 08:00', 'America/New_York')).toBe('2026-07-15T12:00:00.000Z');
    // the skipped hour moves forward; the repeated hour takes the earlier instant
    expect(localToInstant('2026-03-08 02:30', 'America/New_York')).toBe('2026-03-08T07:30:00.000Z');
    expect(localToInstant('2026-11-01 01:30', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
    expect(localToInstant('2026-02-30', 'UTC')).toBeNull();
    expect(localToInstant('yesterday', 'UTC')).toBeNull();
  });

  it('moves the skipped hour forward and takes the earlier instant of the repeated hour east of UTC too', () => {
    // Berlin: 02:00 CET → 03:00 CEST on 29 March, 03:00 CEST → 02:00 CET on 25 October 2026
    expect(localToInstant('2026-03-29 02:30', 'Europe/Berlin')).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST (was 01:30 CET)
    expect(localToInstant('2026-10-25 02:30', 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z'); // 02:30 CEST (was CET)
    expect(localToInstant('2026-10-25 01:59', 'Europe/Berlin')).toBe('2026-10-24T23:59:00.000Z');
    expect(localToInstant('2026-10-25 03:00', 'Europe/Berlin')).toBe('2026-10-25T02:00:00.000Z');
    // Sydney: 03:00 AEDT → 02:00 AEST on 5 April, 02:00 AEST → 03:00 AEDT on 4 October 2026
    expect(localToInstant('2026-04-05 02:30', 'Australia/Sydney')).toBe('2026-04-04T15:30:00.000Z');
    expect(localToInstant('2026-10-04 02:30', 'Australia/Sydney')).toBe('2026-10-03T16:30:00.000Z'); // 03:30 AEDT
    // Lord Howe shifts by 30 minutes: 02:00 → 01:30 on 5 April
    expect(localToInstant('2026-04-05 01:45', 'Australia/Lord_Howe')).toBe('2026-04-04T14:45:00.000Z');
    // Santiago skips midnight (00:00 → 01:00 on 6 September 2026): the date's first instant is 01:00
    expect(localToInstant('2026-09-06', 'America/Santiago')).toBe('2026-09-06T04:00:00.000Z');
    // a zone at +14:00 and one at -12:00
    expect(localToInstant('2026-11-24', 'Pacific/Kiritimati')).toBe('2026-11-23T10:00:00.000Z');
    expect(localToInstant('2026-11-24', 'Etc/GMT+12')).toBe('2026-11-24T12:00:00.000Z');
  });
});

describe('CSV reader', () => {
  it('stops, naming the line, at a quoted field that runs on past 1 MB without its closing quote', async () => {
    // a truncated or broken field would otherwise take the rest of a 2 GB file into memory
    const row = `x,${'y'.repeat(6000)}\n`;
    const text = `a,b\n1,2\n"unterminated,3\n${row.repeat(200)}`;
    const chunks = Array.from({ length: Math.ceil(text.length / 65536) }, (_, i) => text.slice(i * 65536, (i + 1) * 65536));
    const lines: number[] = [];
    const read = async () => {
      for await (const r of readCsv(chunks)) lines.push(r.line);
    };
    await expect(read()).rejects.toMatchObject({ line: 3, message: expect.stringMatching(/a quoted field runs on .* closing quote/) });
    expect(lines).toEqual([1, 2]);
  });

  it('drops a byte order mark before a quoted header (Excel writes both)', async () => {
    for (const size of [1, 3, 100]) {
      const text = '\ufeff"Member_ID","Basket_ID"\r\nM1,b1\r\n';
      const chunks = Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));
      const records = [];
      for await (const r of readCsv(chunks)) records.push(r.fields);
      expect(records, `chunk size ${size}`).toEqual([['Member_ID', 'Basket_ID'], ['M1', 'b1']]);
    }
  });

  it('reads a quote inside an unquoted field as a character, not as the start of a quoted field', async () => {
    // an inch mark in a product name swallowed every following line into one record
    const text = 'gtin,name\n1,Pizza 12" thin\n2,Soda\n3,"Bread, 24"" loaf"\n4,Flour 5" bag "x"\n';
    for (const size of [1, 4, 100]) {
      const chunks = Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));
      const records = [];
      for await (const r of readCsv(chunks)) records.push([r.line, r.fields]);
      expect(records, `chunk size ${size}`).toEqual([
        [1, ['gtin', 'name']],
        [2, ['1', 'Pizza 12" thin']],
        [3, ['2', 'Soda']],
        [4, ['3', 'Bread, 24" loaf']],
        [5, ['4', 'Flour 5" bag "x"']],
      ]);
    }
  });

  it('handles quotes, escaped quotes, CRLF and newlines inside quotes, in any chunking', async () => {
    const text = 'a,b\r\n"x,1","say ""hi"""\r\n"multi\nline",2\nlast,3';
    for (const size of [1, 2, 3, 5, 100]) {
      const chunks = Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));
      const records = [];
      for await (const r of readCsv(chunks)) records.push([r.line, r.fields]);
      expect(records, `chunk size ${size}`).toEqual([
        [1, ['a', 'b']],
        [2, ['x,1', 'say "hi"']],
        [3, ['multi\nline', '2']],
        [5, ['last', '3']],
      ]);
    }
  });

  it('writes fields that round-trip', async () => {
    const line = csvLine(['plain', 'with,comma', 'with "quote"', null, 3]);
    const records = [];
    for await (const r of readCsv([line])) records.push(r);
    expect(records[0]!.fields).toEqual(['plain', 'with,comma', 'with "quote"', '', '3']);
  });
});

describe('instants with an offset', () => {
  it('reads every accepted shape to the microsecond, before and after 1970', () => {
    expect(parseInstant('2026-11-24T10:15:00-05:00')).toEqual({ seconds: Date.parse('2026-11-24T15:15:00Z') / 1000, micros: 0 });
    expect(parseInstant('2026-11-24T10:15+0530')).toEqual({ seconds: Date.parse('2026-11-24T04:45:00Z') / 1000, micros: 0 });
    expect(parseInstant('2026-11-24T10:15:00.25Z')).toEqual({ seconds: Date.parse('2026-11-24T10:15:00Z') / 1000, micros: 250_000 });
    expect(parseInstant('0050-01-01T00:00:00Z')!.seconds).toBe(new Date('0050-01-01T00:00:00Z').getTime() / 1000);
    expect(epochText(parseInstant('1970-01-01T00:00:01.000001Z')!)).toBe('1.000001');
    expect(epochText(parseInstant('1969-12-31T23:59:59.5Z')!)).toBe('-0.500000');
    expect(epochText(parseInstant('1969-12-31T23:59:50Z')!)).toBe('-10.000000');
  });

  it('agrees with Date on every kind of day from 1600 to 2400 (leap years, centuries)', () => {
    const mismatches: string[] = [];
    for (let t = Date.parse('1600-01-01T00:00:00Z'); t < Date.parse('2400-12-31T00:00:00Z'); t += 17 * 86_400_000 + 5 * 3_600_000 + 61_000) {
      const iso = new Date(t).toISOString().replace('.000Z', 'Z');
      if (parseInstant(iso)?.seconds !== t / 1000) mismatches.push(iso);
    }
    expect(mismatches).toEqual([]);
    expect(parseInstant('2000-02-29T00:00:00Z')).not.toBeNull();
    expect(parseInstant('1900-02-29T00:00:00Z')).toBeNull();
    expect(parseInstant('2100-02-29T00:00:00Z')).toBeNull();
  });

  it('refuses what is not a real date, time or offset', () => {
    for (const bad of [
      '2025-02-30T10:00:00Z', // Date.parse rolls it into March
      '2025-02-29T10:00:00Z',
      '2025-01-01T24:00:00Z',
      '2025-01-01T10:60:00Z',
      '2025-01-01T10:00:60Z',
      '2025-01-01T10:00:00+16:00',
      '2025-01-01T10:00:00+05:60',
      '2025-01-01T10:00:00.1234567Z',
      '2025-01-01 10:00:00Z',
      '2025-01-01T10:00:00',
      '2025-13-01T10:00:00Z',
      '2025-00-10T10:00:00Z',
      '2025-04-31T10:00:00Z',
      '2025-04-00T10:00:00Z',
    ]) {
      expect(parseInstant(bad), bad).toBeNull();
    }
  });
});
