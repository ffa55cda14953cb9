// The dashboard's campaign performance chart: its series are the reports' own figures (sent,
// delivered, conversions summed over channels) and the ROI is (value - cost) / cost, computed
// here by hand for the oracle.
import { describe, expect, it } from 'vitest';
import i18n from '../i18n';
import { campaignRoi, performanceOption } from './CampaignPerformance';
import type { Report } from './Campaigns';

function report(name: string, extra: Partial<Report>): Report {
  return {
    campaign: { id: 1, name } as Report['campaign'],
    progress: { treated: 0, done: 0, pending: 0, percent: 100 },
    audience: 0,
    treated: 0,
    holdout: 0,
    sent: 0,
    delivered: 0,
    failed: 0,
    suppressed: 0,
    suppressed_by_reason: {},
    fallbacks: {},
    cost_fen: 0,
    channels: [],
    conversions: null,
    ...extra,
  };
}

const conversions = { treated_converted: 0, holdout_converted: 0, treated_rate: 0, holdout_rate: 0, uplift: 0, uplift_ci95: [0, 0] as [number, number], conversion_value_fen: 0 };

describe('campaign performance', () => {
  const a = report('双11 理财', {
    sent: 900,
    delivered: 850,
    cost_fen: 4500,
    conversions,
    channels: [
      { channel: 'app_push', sent: 600, delivered: 600, cost_fen: 0, converted: 30, conversion_value_fen: 9000, roi: null },
      { channel: 'sms', sent: 300, delivered: 250, cost_fen: 4500, converted: 12, conversion_value_fen: 4500, roi: 0 },
    ],
  });
  const b = report('睡眠唤醒', { sent: 100, delivered: 0, cost_fen: 0 });

  it('plots each report as it is', () => {
    const o = performanceOption([a, b], i18n.t);
    expect(o.xAxis.data).toEqual(['双11 理财', '睡眠唤醒']);
    expect(o.series[0].data).toEqual([900, 100]);
    expect(o.series[1].data).toEqual([850, 0]);
    expect(o.series[2].data).toEqual([42, 0]); // 30 + 12 conversions
    // (9000 + 4500 - 4500) / 4500 = 2; no cost and no goal: no ROI.
    expect(o.series[3].data).toEqual([2, null]);
  });
  it('has no ROI without a measured goal or without cost', () => {
    expect(campaignRoi(report('x', { cost_fen: 100, conversions: null }))).toBeNull();
    expect(campaignRoi(report('x', { cost_fen: 0, conversions }))).toBeNull();
  });
  it('names the series in the chosen language', async () => {
    await i18n.changeLanguage('zh-CN');
    expect(performanceOption([a], i18n.t).series.map((s) => s.name)).toEqual(['已发送', '已送达', '转化', 'ROI']);
    await i18n.changeLanguage('en');
    expect(performanceOption([a], i18n.t).series.map((s) => s.name)).toEqual(['Sent', 'Delivered', 'Converted', 'ROI']);
  });
});
