// A recurring campaign (series) at a glance: the "recurring" tag, the human summary of its rule
// ("每周一、周四 10:30") and, while it has one, its next run in the bank's time zone (the zone
// the rule's times are in, whatever the browser's).
import { Space, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { request } from '../api/client';
import { formatRun, summarize, zoneOffsetMinutes, type Recurrence } from './recurrence';

export const DEFAULT_ZONE = 'Asia/Shanghai';

// The bank's time zone: the contact policy's (Asia/Shanghai when it cannot be read).
export function useBankZone(): string {
  const [zone, setZone] = useState(DEFAULT_ZONE);
  useEffect(() => {
    void request<{ quiet_hours?: { time_zone?: string } }>('GET', '/v1/contact-policy').then(
      (p) => p?.quiet_hours?.time_zone && setZone(p.quiet_hours.time_zone),
      () => {},
    );
  }, []);
  return zone;
}

export function RecurrenceSummary({ recurrence, nextRunAt, zone = DEFAULT_ZONE }: { recurrence: Recurrence; nextRunAt?: string | null; zone?: string }) {
  const { t } = useTranslation();
  const next = nextRunAt ? Date.parse(nextRunAt) : NaN;
  return (
    <Space size={4} wrap data-testid="recur-summary">
      <Tag color="purple">{t('recur.recurring')}</Tag>
      <Typography.Text>{summarize(recurrence, t)}</Typography.Text>
      {!Number.isNaN(next) && (
        <Typography.Text type="secondary">
          {t('recur.nextRunAt')}: <span data-testid="recur-next-run-at">{formatRun(next, zoneOffsetMinutes(zone, next), t)}</span>
        </Typography.Text>
      )}
    </Space>
  );
}
