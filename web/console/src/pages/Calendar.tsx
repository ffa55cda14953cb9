// Marketing calendar: a month view of activities (their published or latest window) and
// campaigns (from their start) with Chinese festivals, holidays and shopping days.
import { Badge, Calendar as AntCalendar, Space, Tag, Tooltip, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router-dom';
import { api, type Schemas } from '../api/client';
import { useAuth } from '../auth';
import type { Terms } from '../activity/terms';
import { covers, festivalsOn, shanghaiDay, windowDays, type Span } from '../calendar/festivals';
import { stateColor, type Activity } from './Activities';

interface Item {
  key: string;
  name: string;
  span: Span;
  kind: 'activity' | 'campaign';
  state: string;
  link?: string;
}

const festivalColor = { holiday: 'red', shopping: 'magenta', festival: 'gold' } as const;

async function loadActivities(): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  const all: Activity[] = [];
  for (let page = 0; page < 5; page++) {
    const r = await api.get('/v1/activities', { query: { cursor, limit: 200 } });
    all.push(...((r.activities ?? []) as Activity[]));
    if (!r.next_cursor) break;
    cursor = r.next_cursor;
  }
  await Promise.all(
    all.map(async (a) => {
      const full = await api.get('/v1/activities/{id}', { params: { id: a.id! } }).catch(() => null);
      const terms = full?.terms as unknown as Terms | undefined;
      if (!terms?.eligibility?.start || !terms.eligibility.end) return;
      items.push({ key: `a${a.id}`, name: a.name!, span: windowDays(terms.eligibility.start, terms.eligibility.end), kind: 'activity', state: a.state!, link: `/activities/${a.id}` });
    }),
  );
  return items;
}

async function loadCampaigns(): Promise<Item[]> {
  const r = await api.get('/v1/campaigns', { query: { limit: 200 } });
  return ((r.campaigns ?? []) as Schemas['Campaign'][])
    .filter((c) => c.start_at)
    .map((c) => {
      const start = shanghaiDay(c.start_at!);
      const end = c.finished_at ? shanghaiDay(c.finished_at) : start;
      return { key: `c${c.id}`, name: c.name!, span: { start, end }, kind: 'campaign' as const, state: c.status! };
    });
}

export default function Calendar() {
  const { t, i18n } = useTranslation();
  const en = i18n.language.startsWith('en');
  const { can } = useAuth();
  const nav = useNavigate();
  const [items, setItems] = useState<Item[]>([]);

  useEffect(() => {
    void Promise.all([can('activities:read') ? loadActivities().catch(() => []) : [], can('campaigns:read') ? loadCampaigns().catch(() => []) : []]).then(([a, c]) =>
      setItems([...a, ...c].sort((x, y) => x.span.start.localeCompare(y.span.start))),
    );
  }, [can]);

  const cell = (d: Dayjs) => {
    const day = d.format('YYYY-MM-DD');
    const fest = festivalsOn(day);
    const here = items.filter((i) => covers(i.span, day));
    return (
      <div data-testid={`day-${day}`}>
        {fest.map((f) => (
          <Tag key={f.zh} color={festivalColor[f.kind]} style={{ marginBottom: 2 }}>
            {en ? f.en : f.zh}
          </Tag>
        ))}
        {here.slice(0, 4).map((i) => (
          <Tooltip key={i.key} title={`${i.name} · ${i.span.start} ~ ${i.span.end}`}>
            <div style={{ cursor: i.link ? 'pointer' : 'default', whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis', fontSize: 12 }} onClick={() => i.link && nav(i.link)}>
              <Badge color={i.kind === 'campaign' ? 'blue' : stateColor[i.state] === 'default' ? 'gray' : stateColor[i.state]} text={`${i.kind === 'campaign' ? '✉ ' : ''}${i.name}`} />
            </div>
          </Tooltip>
        ))}
        {here.length > 4 && <Typography.Text type="secondary">+{here.length - 4}</Typography.Text>}
      </div>
    );
  };

  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('menu.calendar')}
      </Typography.Title>
      <Space>
        <Tag color="red">{t('calendar.holiday')}</Tag>
        <Tag color="magenta">{t('calendar.shopping')}</Tag>
        <Tag color="gold">{t('calendar.festival')}</Tag>
        <Badge color="green" text={t('calendar.activity')} />
        <Badge color="blue" text={t('calendar.campaign')} />
      </Space>
      <AntCalendar cellRender={(d, info) => (info.type === 'date' ? cell(d) : info.originNode)} />
    </Space>
  );
}
