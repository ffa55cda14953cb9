import { describe, expect, it } from 'vitest';
import { covers, festivalsOn, festivalsOfYear, windowDays } from './festivals';

describe('festivals', () => {
  it('knows the shopping days and the lunar festivals of 2026', () => {
    expect(festivalsOn('2026-11-11').map((f) => f.zh)).toEqual(['双11']);
    expect(festivalsOn('2026-06-18').map((f) => f.zh)).toEqual(['618']);
    expect(festivalsOn('2026-02-17').map((f) => f.zh)).toEqual(['春节']);
    expect(festivalsOn('2026-02-16').map((f) => f.zh)).toEqual(['除夕']);
    expect(festivalsOn('2026-09-25').map((f) => f.zh)).toEqual(['中秋节']);
    expect(festivalsOn('2026-06-19').map((f) => f.zh)).toEqual(['端午节']);
    expect(festivalsOn('2026-11-12')).toEqual([]);
  });
  it('除夕 crosses a month boundary when 春节 is on the 1st days', () => {
    expect(festivalsOn('2028-01-25').map((f) => f.zh)).toEqual(['除夕']);
  });
  it('a year without lunar data has the fixed days only', () => {
    expect(festivalsOfYear(2031).some((f) => f.zh === '春节')).toBe(false);
    expect(festivalsOfYear(2031).some((f) => f.date === '2031-10-01')).toBe(true);
  });
});

describe('windowDays', () => {
  it('counts Asia/Shanghai days; an end at local midnight leaves that day out', () => {
    // 2026-12-01 00:00 to 2026-12-08 00:00 in +08:00: Dec 1..7
    expect(windowDays('2026-12-01T00:00:00+08:00', '2026-12-08T00:00:00+08:00')).toEqual({ start: '2026-12-01', end: '2026-12-07' });
    // 2026-11-30T20:00Z is already Dec 1 in Shanghai
    expect(windowDays('2026-11-30T20:00:00Z', '2026-12-01T03:00:00Z')).toEqual({ start: '2026-12-01', end: '2026-12-01' });
    expect(covers({ start: '2026-12-01', end: '2026-12-07' }, '2026-12-07')).toBe(true);
    expect(covers({ start: '2026-12-01', end: '2026-12-07' }, '2026-12-08')).toBe(false);
  });
});
