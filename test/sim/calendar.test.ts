import { describe, expect, it } from 'vitest';
import {
  ChainCalendar,
  christmas,
  formatDate,
  parseDate,
  thanksgiving,
  weekday,
} from '../../src/sim/calendar.ts';
import { generateChain } from '../../src/sim/index.ts';

// Calendar arithmetic is exact: no tolerance.
describe('calendar', () => {
  it('round-trips dates and rejects impossible ones', () => {
    expect(parseDate('1970-01-01')).toBe(0);
    expect(formatDate(parseDate('2024-02-29'))).toBe('2024-02-29');
    expect(() => parseDate('2025-02-29')).toThrow(RangeError);
    expect(() => parseDate('2025-1-5')).toThrow(RangeError);
    expect(weekday(parseDate('2026-03-01'))).toBe(0); // a Sunday
  });

  it('finds US Thanksgiving and Christmas', () => {
    expect(formatDate(thanksgiving(2025))).toBe('2025-11-27');
    expect(formatDate(thanksgiving(2026))).toBe('2026-11-26');
    expect(formatDate(christmas(2026))).toBe('2026-12-25');
  });

  it('gives the zone offset of each day, across DST changes', () => {
    const ny = new ChainCalendar('America/New_York', parseDate('2026-01-01'));
    expect(ny.day(parseDate('2026-03-07')).offset).toBe('-05:00');
    expect(ny.day(parseDate('2026-03-08')).offset).toBe('-04:00'); // DST starts at 02:00
    expect(ny.day(parseDate('2026-10-31')).offset).toBe('-04:00');
    expect(ny.day(parseDate('2026-11-01')).offset).toBe('-05:00');
    const kolkata = new ChainCalendar('Asia/Kolkata', parseDate('2026-01-01'));
    expect(kolkata.day(parseDate('2026-07-01')).offset).toBe('+05:30');
    const london = new ChainCalendar('Europe/London', parseDate('2026-01-01'));
    expect(london.day(parseDate('2026-01-10')).offset).toBe('+00:00');
    expect(london.day(parseDate('2026-07-10')).offset).toBe('+01:00');
  });

  it('closes stores on Thanksgiving and Christmas and busies the weeks before', () => {
    const cal = new ChainCalendar('America/New_York', parseDate('2025-01-01'));
    expect(cal.day(thanksgiving(2025)).tripRate).toBe(0);
    expect(cal.day(christmas(2025)).tripRate).toBe(0);
    expect(cal.day(thanksgiving(2025) - 2).basketFactor).toBeGreaterThan(1);
    expect(cal.day(christmas(2025) - 3).basketFactor).toBeGreaterThan(1);
    expect(cal.day(parseDate('2025-06-10')).basketFactor).toBe(1);
  });

  it('stamps baskets with the offset of their own date', () => {
    const chain = generateChain({
      seed: 3,
      members: 40,
      stores: 2,
      weeks: 30,
      endDate: '2026-06-30',
    });
    const offsets = new Map<string, Set<string>>();
    for (const v of chain.visits()) {
      const phase = v.date < '2026-03-08' ? 'winter' : 'summer';
      offsets.set(phase, (offsets.get(phase) ?? new Set()).add(v.ts.slice(19)));
      expect(v.ts.slice(0, 10)).toBe(v.date);
    }
    expect(offsets.get('winter')).toEqual(new Set(['-05:00']));
    expect(offsets.get('summer')).toEqual(new Set(['-04:00']));
  });
});
