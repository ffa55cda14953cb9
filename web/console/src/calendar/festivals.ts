// Chinese festivals, public holidays and shopping days for the marketing calendar.
// Fixed Gregorian days every year; lunar festivals (春节, 元宵, 端午, 七夕, 中秋, 重阳) and 清明
// from the published calendar for the years listed (no lunar arithmetic: a year not listed
// shows the fixed days only).

export interface Festival {
  date: string; // YYYY-MM-DD
  zh: string;
  en: string;
  kind: 'holiday' | 'shopping' | 'festival';
}

const FIXED: [string, string, string, Festival['kind']][] = [
  ['01-01', '元旦', "New Year's Day", 'holiday'],
  ['02-14', '情人节', "Valentine's Day", 'festival'],
  ['03-08', '妇女节', "Women's Day", 'festival'],
  ['05-01', '劳动节', 'Labour Day', 'holiday'],
  ['05-20', '520', '520', 'shopping'],
  ['06-01', '儿童节', "Children's Day", 'festival'],
  ['06-18', '618', '618 sale', 'shopping'],
  ['10-01', '国庆节', 'National Day', 'holiday'],
  ['11-11', '双11', 'Double 11', 'shopping'],
  ['12-12', '双12', 'Double 12', 'shopping'],
  ['12-25', '圣诞节', 'Christmas', 'festival'],
];

// [春节, 元宵, 清明, 端午, 七夕, 中秋, 重阳]
const LUNAR: Record<number, string[]> = {
  2025: ['01-29', '02-12', '04-04', '05-31', '08-29', '10-06', '10-29'],
  2026: ['02-17', '03-03', '04-05', '06-19', '08-19', '09-25', '10-18'],
  2027: ['02-06', '02-20', '04-05', '06-09', '08-08', '09-15', '10-08'],
  2028: ['01-26', '02-09', '04-04', '05-28', '08-26', '10-03', '10-26'],
};
const LUNAR_NAMES: [string, string, Festival['kind']][] = [
  ['春节', 'Spring Festival', 'holiday'],
  ['元宵节', 'Lantern Festival', 'festival'],
  ['清明节', 'Qingming', 'holiday'],
  ['端午节', 'Dragon Boat Festival', 'holiday'],
  ['七夕', 'Qixi', 'festival'],
  ['中秋节', 'Mid-Autumn Festival', 'holiday'],
  ['重阳节', 'Double Ninth', 'festival'],
];

export function festivalsOfYear(year: number): Festival[] {
  const out: Festival[] = FIXED.map(([md, zh, en, kind]) => ({ date: `${year}-${md}`, zh, en, kind }));
  const lunar = LUNAR[year];
  if (lunar) {
    lunar.forEach((md, i) => out.push({ date: `${year}-${md}`, zh: LUNAR_NAMES[i][0], en: LUNAR_NAMES[i][1], kind: LUNAR_NAMES[i][2] }));
    // 除夕: the day before 春节
    const eve = new Date(`${year}-${lunar[0]}T00:00:00Z`);
    eve.setUTCDate(eve.getUTCDate() - 1);
    out.push({ date: eve.toISOString().slice(0, 10), zh: '除夕', en: "New Year's Eve", kind: 'holiday' });
  }
  return out.sort((a, b) => a.date.localeCompare(b.date));
}

export function festivalsOn(date: string): Festival[] {
  return festivalsOfYear(Number(date.slice(0, 4))).filter((f) => f.date === date);
}

export interface Span {
  start: string; // YYYY-MM-DD, inclusive
  end: string; // YYYY-MM-DD, inclusive
}

// Local (Asia/Shanghai) day of an RFC 3339 time.
export function shanghaiDay(iso: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
}

// The days an activity window [start, end) covers in Asia/Shanghai: an end at local midnight
// does not cover that day.
export function windowDays(startIso: string, endIso: string): Span {
  const end = new Date(new Date(endIso).getTime() - 1).toISOString();
  return { start: shanghaiDay(startIso), end: shanghaiDay(end) };
}

export function covers(span: Span, day: string): boolean {
  return span.start <= day && day <= span.end;
}
