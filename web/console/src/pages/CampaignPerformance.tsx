// The dashboard's campaign performance: for the latest campaigns that have sent, the delivery
// funnel (sent, delivered, converted) as bars and the return on cost as a line, from each
// campaign's report (GET /v1/campaigns/{id}/report).
import { Empty } from 'antd';
import ReactECharts from 'echarts-for-react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { Report } from './Campaigns';

// ROI of a campaign over all its channels: (conversion value - cost) / cost; null without cost
// or without a measured goal.
export function campaignRoi(r: Report): number | null {
  if (!r.conversions || r.cost_fen <= 0) return null;
  const value = r.channels.reduce((s, c) => s + c.conversion_value_fen, 0);
  return (value - r.cost_fen) / r.cost_fen;
}

export function performanceOption(reports: Report[], t: TFunction) {
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 50, right: 60, top: 30, bottom: 30 },
    xAxis: { type: 'category', data: reports.map((r) => r.campaign.name) },
    yAxis: [
      { type: 'value', name: t('campaign.sent') },
      { type: 'value', name: 'ROI' },
    ],
    series: [
      { type: 'bar', name: t('campaign.sent'), data: reports.map((r) => r.sent) },
      { type: 'bar', name: t('campaign.delivered'), data: reports.map((r) => r.delivered) },
      {
        type: 'bar',
        name: t('campaign.converted'),
        data: reports.map((r) => r.channels.reduce((s, c) => s + c.converted, 0)),
      },
      { type: 'line', yAxisIndex: 1, name: 'ROI', data: reports.map((r) => campaignRoi(r)) },
    ],
  };
}

export function CampaignPerformance({ reports }: { reports: Report[] }) {
  const { t } = useTranslation();
  if (reports.length === 0) return <Empty description={t('dash.noCampaigns')} />;
  return <ReactECharts style={{ height: 260 }} notMerge option={performanceOption(reports, t)} />;
}
