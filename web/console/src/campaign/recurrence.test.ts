// The recurrence preview against run times worked out by hand from a calendar (Beijing time,
// UTC+8; 2026-11-24 is a Tuesday, 2028 is a leap year), and the summary in both languages.
import { describe, expect, it } from 'vitest';
import i18n from '../i18n';
import { buildRecurrence, formatRun, nextOccurrence, nextRuns, parseClock, parseDay, summarize, zoneOffsetMinutes, type Recurrence } from './recurrence';

const BJ = 480;
const at = (local: string) => Date.parse(`${local}+08:00`);
const iso = (ms: number[]) => ms.map((x) => new Date(x + BJ * 60_000).toISOString().slice(0, 16).replace('T', ' '));

describe('nextRuns', () => {
  it('every week on Monday and Thursday from a Tuesday morning', () => {
    const r: Recurrence = { every: 'week', at: '10:30', weekdays: [4, 1] };
    expect(iso(nextRuns(r, at('2026-11-24T10:11:00'), BJ))).toEqual(['2026-11-26 10:30', '2026-11-30 10:30', '2026-12-03 10:30', '2026-12-07 10:30', '2026-12-10 10:30']);
  });
  it('a run exactly at the start time is the first', () => {
    const r: Recurrence = { every: 'day', at: '09:00' };
    expect(iso(nextRuns(r, at('2026-11-24T09:00:00'), BJ, 2))).toEqual(['2026-11-24 09:00', '2026-11-25 09:00']);
    expect(iso(nextRuns(r, at('2026-11-24T09:00:01'), BJ, 1))).toEqual(['2026-11-25 09:00']);
  });
  it('places a local time after midnight on the right UTC day', () => {
    // 00:30 in Beijing is 16:30 UTC the day before; from 2026-11-24 16:00 UTC (00:00 on the 25th local).
    const r: Recurrence = { every: 'day', at: '00:30' };
    expect(nextRuns(r, Date.parse('2026-11-24T16:00:00Z'), BJ, 2).map((x) => new Date(x).toISOString())).toEqual(['2026-11-24T16:30:00.000Z', '2026-11-25T16:30:00.000Z']);
  });
  it('month day 31 runs on the last day of February and April', () => {
    const r: Recurrence = { every: 'month', at: '09:00', month_days: [31] };
    expect(iso(nextRuns(r, at('2027-01-15T00:00:00'), BJ))).toEqual(['2027-01-31 09:00', '2027-02-28 09:00', '2027-03-31 09:00', '2027-04-30 09:00', '2027-05-31 09:00']);
  });
  it('a leap February has its 29th; days 29 and 30 share the last day once', () => {
    const r: Recurrence = { every: 'month', at: '20:00', month_days: [30, 29] };
    expect(iso(nextRuns(r, at('2028-02-01T00:00:00'), BJ))).toEqual(['2028-02-29 20:00', '2028-03-29 20:00', '2028-03-30 20:00', '2028-04-29 20:00', '2028-04-30 20:00']);
    expect(iso(nextRuns(r, at('2027-02-01T00:00:00'), BJ, 2))).toEqual(['2027-02-28 20:00', '2027-03-29 20:00']);
  });
  it('stops at until (inclusive) and at max_runs', () => {
    const r: Recurrence = { every: 'day', at: '08:00', until: '2026-11-26' };
    expect(iso(nextRuns(r, at('2026-11-24T10:11:00'), BJ))).toEqual(['2026-11-25 08:00', '2026-11-26 08:00']);
    expect(nextRuns({ ...r, until: '2026-11-24' }, at('2026-11-24T10:11:00'), BJ)).toEqual([]);
    expect(iso(nextRuns({ every: 'week', at: '08:00', weekdays: [7], max_runs: 2 }, at('2026-11-24T10:11:00'), BJ))).toEqual(['2026-11-29 08:00', '2026-12-06 08:00']);
  });
  it('has no run for an incomplete rule', () => {
    expect(nextOccurrence({ every: 'week', at: '08:00', weekdays: [] }, 0, BJ)).toBeNull();
    expect(nextOccurrence({ every: 'month', at: '08:00' }, 0, BJ)).toBeNull();
    expect(nextOccurrence({ every: 'day', at: '25:00' }, 0, BJ)).toBeNull();
  });
});

describe('parsing and zones', () => {
  it('reads clocks and dates and refuses bad ones', () => {
    expect(parseClock('10:30')).toBe(630);
    expect(parseClock('24:00')).toBeNull();
    expect(parseClock('9:30')).toBeNull();
    expect(parseDay('1970-01-02')).toBe(1);
    expect(parseDay('2027-02-29')).toBeNull();
  });
  it('knows the offset of the bank zones', () => {
    expect(zoneOffsetMinutes('Asia/Shanghai', Date.parse('2026-07-01T00:00:00Z'))).toBe(480);
    expect(zoneOffsetMinutes('UTC', Date.parse('2026-07-01T00:00:00Z'))).toBe(0);
    expect(zoneOffsetMinutes('Europe/London', Date.parse('2026-07-01T00:00:00Z'))).toBe(60);
  });
});

describe('summary', () => {
  const zh = i18n.getFixedT('zh-CN');
  const en = i18n.getFixedT('en');
  it('reads like an operator would say it', () => {
    const week: Recurrence = { every: 'week', at: '10:30', weekdays: [4, 1] };
    expect(summarize(week, zh)).toBe('每周一、周四 10:30');
    expect(summarize(week, en)).toBe('Every Mon, Thu at 10:30');
    expect(summarize({ every: 'day', at: '09:00', until: '2027-06-30', max_runs: 12 }, zh)).toBe('每天 09:00，至 2027-06-30，最多 12 次');
    expect(summarize({ every: 'month', at: '09:00', month_days: [15, 1, 31] }, zh)).toBe('每月 1、15、31 日 09:00');
    expect(summarize({ every: 'month', at: '09:00', month_days: [15, 1, 31] }, en)).toBe('Monthly on day 1, 15, 31 at 09:00');
  });
  it('formats a run in local time with its weekday', () => {
    expect(formatRun(at('2026-11-26T10:30:00'), BJ, zh)).toBe('2026-11-26 10:30 周四');
    expect(formatRun(at('2026-11-26T10:30:00'), BJ, en)).toBe('2026-11-26 10:30 Thu');
  });
});

describe('buildRecurrence', () => {
  it('sends only the members the chosen frequency takes', () => {
    const fields = { every: 'week' as const, at: '10:30', weekdays: [4, 1, 4], month_days: [31], until: null, max_runs: null };
    expect(buildRecurrence(fields)).toEqual({ every: 'week', at: '10:30', weekdays: [1, 4] });
    expect(buildRecurrence({ ...fields, every: 'month', until: '2027-06-30', max_runs: 12 })).toEqual({ every: 'month', at: '10:30', month_days: [31], until: '2027-06-30', max_runs: 12 });
    expect(buildRecurrence({ ...fields, every: 'day' })).toEqual({ every: 'day', at: '10:30' });
  });
});
