import { describe, expect, it } from 'vitest';
import { InstantWithOffset, LocalDate } from '../../src/lib/validators.ts';

const messages = (r: { success: boolean; error?: { issues: { message: string }[] } }) =>
  r.success ? [] : r.error!.issues.map((i) => i.message);

describe('instants and dates the API takes', () => {
  it('names only the wrong form when a value is not written as asked', () => {
    // A POS sending local time got "not a real date and time" besides the missing offset: false.
    expect(messages(InstantWithOffset.safeParse('2026-11-25T10:15:00'))).toEqual([
      'a timestamp with a UTC offset, e.g. 2026-11-24T10:15:00-05:00',
    ]);
    expect(messages(LocalDate.safeParse('2026-11-5'))).toEqual(['a date YYYY-MM-DD']);
  });

  it('still refuses dates that do not exist and instants out of range', () => {
    expect(messages(InstantWithOffset.safeParse('2026-02-30T10:15:00Z'))).toEqual(['not a real date and time']);
    expect(messages(InstantWithOffset.safeParse('1800-01-01T00:00:00Z'))).toEqual(['outside 1900-01-01 … 9999-01-01']);
    expect(messages(LocalDate.safeParse('2026-02-30'))).toEqual(['not a real date']);
    expect(InstantWithOffset.safeParse('2026-11-25T10:15:00-05:00').success).toBe(true);
    expect(LocalDate.safeParse('2026-11-25').success).toBe(true);
  });
});
