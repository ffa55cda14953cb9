// A recurring campaign (series) at a glance: the "recurring" tag, the human summary of its rule
// ("每周一、周四 10:30") and, while it has one, its next run.
import { Space, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { summarize, type Recurrence } from './recurrence';

export function RecurrenceSummary({ recurrence, nextRunAt, fmt }: { recurrence: Recurrence; nextRunAt?: string | null; fmt: (v?: string | null) => string }) {
  const { t } = useTranslation();
  return (
    <Space size={4} wrap data-testid="recur-summary">
      <Tag color="purple">{t('recur.recurring')}</Tag>
      <Typography.Text>{summarize(recurrence, t)}</Typography.Text>
      {nextRunAt && (
        <Typography.Text type="secondary" data-testid="recur-next-run-at">
          {t('recur.nextRunAt')}: {fmt(nextRunAt)}
        </Typography.Text>
      )}
    </Space>
  );
}
