// A recurring campaign's runs on its report page: one row per run (newest first), each linking to
// the run's own report.
import { Table, Tag } from 'antd';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { formatYuan } from '../activity/cost';
import { runRows, statusColor, type RunReport, type RunRow } from './series';

export function RunsTable({ runs, fmt }: { runs: RunReport[] | undefined; fmt: (v?: string | null) => string }) {
  const { t } = useTranslation();
  return (
    <Table<RunRow>
      size="small"
      rowKey="id"
      pagination={{ pageSize: 20, hideOnSinglePage: true }}
      dataSource={runRows(runs)}
      columns={[
        { title: t('recur.runNo'), dataIndex: 'run_no', render: (n: number, r) => <Link to={`/campaigns/${r.id}`} data-testid={`run-link-${n}`}>{t('recur.runOf', { n })}</Link> },
        { title: t('activity.state'), dataIndex: 'status', render: (s: string) => <Tag color={statusColor[s]}>{t(`campaign.status.${s}`)}</Tag> },
        { title: t('recur.runStart'), dataIndex: 'start', render: (v: string | null) => fmt(v) },
        { title: t('campaign.audience'), dataIndex: 'audience' },
        { title: t('campaign.sent'), dataIndex: 'sent' },
        { title: t('campaign.delivered'), dataIndex: 'delivered' },
        { title: t('campaign.cost'), dataIndex: 'cost_fen', render: (v: number) => `¥${formatYuan(v)}` },
        { title: t('campaign.converted'), dataIndex: 'converted' },
      ]}
    />
  );
}
