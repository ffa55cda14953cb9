// Recurring campaigns in the console: the builder's "next runs" preview and the human summary
// of a series ("每周一、周四 10:30"). The run times follow the server's rules
// (src/campaign/recurrence.h, docs/campaigns.md "Recurring campaigns"): local time at a fixed
// offset from UTC (the bank's zone), ISO weekdays (1 = Monday), a month day a month does not
// have runs on that month's last day, `until` is the last local date a run may fall on, and the
// first run is the first one at or after max(start_at, now).

export interface Recurrence {
  every: 'day' | 'week' | 'month';
  at: string; // "HH:MM"
  weekdays?: number[];
  month_days?: number[];
  until?: string; // "YYYY-MM-DD"
  max_runs?: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const SEARCH_DAYS = 400; // as the server: a rule that matches nothing within this has no run

// "HH:MM" -> minute of the day, or null.
export function parseClock(s: string | undefined): number | null {
  const m = /^([0-2]\d):([0-5]\d)$/.exec(s ?? '');
  if (!m) return null;
  const v = Number(m[1]) * 60 + Number(m[2]);
  return v < 24 * 60 ? v : null;
}

// "YYYY-MM-DD" -> days since 1970-01-01, or null.
export function parseDay(s: string | undefined): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s ?? '');
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(ms);
  if (d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) return null;
  return ms / DAY;
}

function isoWeekday(day: number): number {
  return ((new Date(day * DAY).getUTCDay() + 6) % 7) + 1;
}

function monthDayMatches(days: number[], day: number): boolean {
  const d = new Date(day * DAY);
  const dom = d.getUTCDate();
  if (days.includes(dom)) return true;
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  return dom === last && days.some((x) => x > last);
}

// The first run strictly after `afterMs` (UTC ms), local time at `tzOffsetMinutes`; null when
// the rule is incomplete or no run remains before `until`.
export function nextOccurrence(r: Recurrence, afterMs: number, tzOffsetMinutes: number): number | null {
  const at = parseClock(r.at);
  if (at === null) return null;
  const until = r.until ? parseDay(r.until) : null;
  if (r.every === 'week' && !(r.weekdays ?? []).length) return null;
  if (r.every === 'month' && !(r.month_days ?? []).length) return null;
  const offset = tzOffsetMinutes * MINUTE;
  const first = Math.floor((afterMs + offset) / DAY);
  for (let day = first; day <= first + SEARCH_DAYS; day++) {
    if (until !== null && day > until) return null;
    const t = day * DAY + at * MINUTE - offset;
    if (t <= afterMs) continue;
    if (r.every === 'week' && !(r.weekdays ?? []).includes(isoWeekday(day))) continue;
    if (r.every === 'month' && !monthDayMatches(r.month_days ?? [], day)) continue;
    return t;
  }
  return null;
}

// Up to `n` run times (UTC ms) of a new series: from the first at or after `fromMs` (the later of
// start_at and now), at most max_runs of them.
export function nextRuns(r: Recurrence, fromMs: number, tzOffsetMinutes: number, n = 5): number[] {
  const limit = r.max_runs && r.max_runs > 0 ? Math.min(n, r.max_runs) : n;
  const out: number[] = [];
  let after = fromMs - 1;
  while (out.length < limit) {
    const next = nextOccurrence(r, after, tzOffsetMinutes);
    if (next === null) break;
    out.push(next);
    after = next;
  }
  return out;
}

// The offset from UTC (minutes) of an IANA zone at `atMs`; 480 for an unknown zone
// (Asia/Shanghai, the default bank zone).
export function zoneOffsetMinutes(zone: string, atMs: number): number {
  try {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    }).formatToParts(new Date(atMs));
    const get = (k: string) => Number(parts.find((p) => p.type === k)?.value);
    const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
    return Math.round((local - Math.floor(atMs / MINUTE) * MINUTE) / MINUTE);
  } catch {
    return 480;
  }
}

type T = (key: string, o?: Record<string, unknown>) => string;

const pad = (n: number) => String(n).padStart(2, '0');

// "2026-11-26 10:30 周四" / "2026-11-26 10:30 Thu": a run time in local time at the offset.
export function formatRun(ms: number, tzOffsetMinutes: number, t: T): string {
  const d = new Date(ms + tzOffsetMinutes * MINUTE);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const wd = ((d.getUTCDay() + 6) % 7) + 1;
  return `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} ${t(`recur.wd.${wd}`)}`;
}

// The human summary of a recurrence: "每周一、周四 10:30" / "Every Mon, Thu at 10:30", with the
// end ("，至 2027-06-30", "，共 12 次") when it has one.
export function summarize(r: Recurrence, t: T): string {
  const sep = t('recur.sep');
  let s: string;
  if (r.every === 'week') {
    const days = [...new Set(r.weekdays ?? [])].sort((a, b) => a - b).map((d) => t(`recur.wd.${d}`));
    s = t('recur.sumWeek', { days: days.join(sep), at: r.at });
  } else if (r.every === 'month') {
    const days = [...new Set(r.month_days ?? [])].sort((a, b) => a - b);
    s = t('recur.sumMonth', { days: days.join(sep), at: r.at });
  } else {
    s = t('recur.sumDay', { at: r.at });
  }
  if (r.until) s += t('recur.sumUntil', { until: r.until });
  if (r.max_runs) s += t('recur.sumMax', { n: r.max_runs });
  return s;
}

// The builder's recurrence fields -> the definition's `recurrence` member: weekdays only every
// week, month days only every month (the server refuses them otherwise), sorted and without
// repeats; until and max_runs only when set.
export interface RecurrenceFields {
  every?: Recurrence['every'];
  at?: string;
  weekdays?: number[];
  month_days?: number[];
  until?: string | null;
  max_runs?: number | null;
}

export function buildRecurrence(f: RecurrenceFields): Recurrence {
  const uniq = (xs: number[] | undefined) => [...new Set(xs ?? [])].sort((a, b) => a - b);
  const r: Recurrence = { every: f.every ?? 'day', at: f.at ?? '' };
  if (r.every === 'week') r.weekdays = uniq(f.weekdays);
  if (r.every === 'month') r.month_days = uniq(f.month_days);
  if (f.until) r.until = f.until;
  if (f.max_runs !== undefined && f.max_runs !== null) r.max_runs = f.max_runs;
  return r;
}
