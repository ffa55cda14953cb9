// Activity wizard: template, eligibility and schedule, chances, prize pools per customer group
// with odds, stock and an expected-cost forecast, then save as draft and submit for approval.
// The form's member paths are the terms' own, so the API's field errors land on their fields.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import {
  Alert,
  App,
  Button,
  Card,
  Checkbox,
  Col,
  DatePicker,
  Divider,
  Form,
  Input,
  InputNumber,
  Modal,
  Radio,
  Row,
  Select,
  Space,
  Steps,
  Table,
  Tag,
  Typography,
} from 'antd';
import dayjs from 'dayjs';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router-dom';
import { api, request, type Schemas } from '../api/client';
import { ApiError, fieldPath } from '../api/problem';
import { TestId } from '../components/TestId';
import { useProblemForm } from '../components/useProblemForm';
import { QuizSettings, SignInSettings } from '../activity/SettingsEditors';
import { expectedDraws, forecastPool, formatYuan, type PoolForecast } from '../activity/cost';
import {
  CHANNELS,
  DRAW_TEMPLATES,
  PRIZE_KINDS,
  PRIZE_RANGE,
  TEMPLATES,
  fromTerms,
  groupMembersRule,
  toTerms,
  type PoolEntry,
  type PoolGroup,
  type Terms,
  type WizardValues,
} from '../activity/terms';

type Audience = Schemas['Audience'];

// Yuan on screen, fen in the terms (the field keeps the terms' path for errors).
const fenAsYuan = {
  getValueProps: (v: number | undefined) => ({ value: v === undefined || v === null ? v : v / 100 }),
  normalize: (v: number | null) => (v === null || v === undefined ? 0 : Math.round(v * 100)),
};
// RFC 3339 text in the terms, a date-time picker on screen.
const timeField = {
  getValueProps: (v: string | undefined) => ({ value: v ? dayjs(v) : null }),
  normalize: (v: dayjs.Dayjs | null) => (v ? v.format('YYYY-MM-DDTHH:mm:ssZ') : ''),
};

function useAudiences(): Audience[] {
  const [list, setList] = useState<Audience[]>([]);
  useEffect(() => {
    api.get('/v1/audiences', { query: { limit: 500 } }).then((r) => setList((r.audiences ?? []) as Audience[]), () => setList([]));
  }, []);
  return list;
}

function GroupInput({ value, onChange, audiences }: { value?: PoolGroup; onChange?: (g: PoolGroup) => void; audiences: Audience[] }) {
  const { t } = useTranslation();
  const kind = value === undefined || value === 'default' ? 'default' : 'audience_id' in value ? 'audience' : 'rule';
  return (
    <Space wrap>
      <TestId id="pool-group-kind"><Select
        style={{ width: 190 }}
        value={kind}
        onChange={(k) => onChange?.(k === 'default' ? 'default' : k === 'audience' ? { audience_id: audiences[0]?.id ?? 0 } : { rule: '' })}
        options={[
          { value: 'default', label: t('wizard.groupDefault') },
          { value: 'audience', label: t('wizard.groupAudience') },
          { value: 'rule', label: t('wizard.groupRule') },
        ]}
      /></TestId>
      {kind === 'audience' && (
        <TestId id="pool-group-audience"><Select
          style={{ width: 260 }}
          value={(value as { audience_id: number }).audience_id || undefined}
          onChange={(id: number) => onChange?.({ audience_id: id })}
          options={audiences.map((a) => ({ value: a.id, label: `${a.name} (${a.count?.toLocaleString() ?? '?'})` }))}
        /></TestId>
      )}
      {kind === 'rule' && (
        <Input
          style={{ width: 420, fontFamily: 'monospace' }}
          value={(value as { rule: string }).rule}
          placeholder='level in ("gold", "platinum")'
          onChange={(e) => onChange?.({ rule: e.target.value })}
          data-testid="pool-group-rule"
        />
      )}
    </Space>
  );
}

function newPrize(i: number, kind = 'thanks') {
  return { id: `p${i}`, name: '', kind, weight: 1, total_stock: kind === 'thanks' ? -1 : 100, daily_stock: 0, per_customer_cap: 0, cost_fen: 0, reward_ref: '' };
}

function newPool(n: number, group: PoolGroup = 'default'): PoolEntry {
  return { group, pool: { id: `pool${n}`, name: '', fallback_prize_id: '', guarantee_after: 0, prizes: [newPrize(1, 'points'), newPrize(2)] } };
}

function initialValues(): WizardValues {
  const start = dayjs().add(1, 'hour').startOf('hour');
  return {
    name: '',
    description: '',
    eligibility: { scope: 'all', rule: '', white_list: [], black_list: [], channels: ['app', 'h5'], start: start.format('YYYY-MM-DDTHH:mm:ssZ'), end: start.add(30, 'day').format('YYYY-MM-DDTHH:mm:ssZ') },
    chances: { free_per_day: 1, points_cost: 0, max_per_day: 0, max_total: 0 },
    pools: [newPool(1)],
    budget_fen: 0,
    tz_offset_minutes: 480,
    display: { template: 'wheel', title: '', theme: 'default', settings: { spin_ms: 4000 } },
  };
}

// Which step holds a field path (to jump to the first error).
function stepOf(path: (string | number)[]): number {
  const head = path[0];
  if (head === 'eligibility') return 1;
  if (head === 'chances') return 2;
  if (head === 'pools' || head === 'budget_fen') return 3;
  return 0;
}

function PrizeRows({ poolIndex }: { poolIndex: number }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const prizes = Form.useWatch(['pools', poolIndex, 'pool', 'prizes'], form) as WizardValues['pools'] extends (infer P)[] | undefined ? P extends PoolEntry ? PoolEntry['pool']['prizes'] : never : never;
  const total = (prizes ?? []).reduce((s, p) => s + (Number(p?.weight) || 0), 0);
  return (
    // Inside the pools' Form.List, names are relative to the pool.
    <Form.List name={[poolIndex, 'pool', 'prizes']}>
      {(fields, { add, remove }) => (
        <div>
          <Row gutter={6} style={{ fontSize: 12, color: '#888', marginBottom: 4 }}>
            <Col span={2}>ID</Col>
            <Col span={3}>{t('prize.name')}</Col>
            <Col span={3}>{t('prize.kind')}</Col>
            <Col span={2}>{t('prize.weight')}</Col>
            <Col span={2}>{t('prize.odds')}</Col>
            <Col span={2}>{t('prize.stock')}</Col>
            <Col span={2}>{t('prize.daily')}</Col>
            <Col span={2}>{t('prize.cap')}</Col>
            <Col span={2}>{t('prize.cost')}</Col>
            <Col span={3}>{t('prize.ref')}</Col>
          </Row>
          {fields.map((f) => {
            const p = prizes?.[f.name];
            return (
              <Row gutter={6} key={f.key} data-testid={`prize-row-${poolIndex}-${f.name}`}>
                <Col span={2}>
                  <Form.Item name={[f.name, 'id']} rules={[{ required: true, message: t('form.required') }]}>
                    <Input data-testid="prize-id" />
                  </Form.Item>
                </Col>
                <Col span={3}>
                  <Form.Item name={[f.name, 'name']} rules={[{ required: true, message: t('form.required') }]}>
                    <Input data-testid="prize-name" />
                  </Form.Item>
                </Col>
                <Col span={3}>
                  <Form.Item name={[f.name, 'kind']}>
                    <TestId id="prize-kind"><Select options={PRIZE_KINDS.map((k) => ({ value: k, label: t(`prizeKind.${k}`) }))} /></TestId>
                  </Form.Item>
                </Col>
                <Col span={2}>
                  <Form.Item name={[f.name, 'weight']}>
                    <InputNumber min={0} precision={0} style={{ width: '100%' }} data-testid="prize-weight" />
                  </Form.Item>
                </Col>
                <Col span={2} style={{ paddingTop: 5 }} data-testid="prize-odds">
                  {total > 0 ? `${(((Number(p?.weight) || 0) / total) * 100).toFixed(2)}%` : '—'}
                </Col>
                <Col span={2}>
                  <Form.Item name={[f.name, 'total_stock']} tooltip={t('prize.stockHint')}>
                    <InputNumber min={-1} precision={0} style={{ width: '100%' }} data-testid="prize-stock" />
                  </Form.Item>
                </Col>
                <Col span={2}>
                  <Form.Item name={[f.name, 'daily_stock']}>
                    <InputNumber min={0} precision={0} style={{ width: '100%' }} />
                  </Form.Item>
                </Col>
                <Col span={2}>
                  <Form.Item name={[f.name, 'per_customer_cap']}>
                    <InputNumber min={0} precision={0} style={{ width: '100%' }} />
                  </Form.Item>
                </Col>
                <Col span={2}>
                  <Form.Item name={[f.name, 'cost_fen']} {...fenAsYuan}>
                    <InputNumber min={0} precision={2} style={{ width: '100%' }} data-testid="prize-cost" />
                  </Form.Item>
                </Col>
                <Col span={3}>
                  <Space.Compact style={{ width: '100%' }}>
                    <Form.Item name={[f.name, 'reward_ref']} style={{ width: '100%' }}>
                      <Input placeholder={p?.kind === 'points' ? '100' : p?.kind === 'coupon' || p?.kind === 'benefit' ? t('prize.template') : ''} data-testid="prize-ref" />
                    </Form.Item>
                    <Button icon={<DeleteOutlined />} onClick={() => remove(f.name)} />
                  </Space.Compact>
                </Col>
              </Row>
            );
          })}
          <Button size="small" icon={<PlusOutlined />} onClick={() => add(newPrize(fields.length + 1))} data-testid={`add-prize-${poolIndex}`}>
            {t('prize.add')}
          </Button>
        </div>
      )}
    </Form.List>
  );
}

interface ForecastRow {
  key: number;
  poolId: string;
  rule: string | null;
  members: number | null;
  draws: number;
  forecast: PoolForecast | null;
  error?: string;
}

function CostCalculator({ audiences }: { audiences: Audience[] }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance<WizardValues>();
  const [participation, setParticipation] = useState(20);
  const [drawsEach, setDrawsEach] = useState(3);
  const [rows, setRows] = useState<ForecastRow[] | null>(null);
  const [busy, setBusy] = useState(false);
  const budget = Form.useWatch('budget_fen', form) as number | undefined;

  const run = async () => {
    setBusy(true);
    try {
      const v = form.getFieldsValue(true) as WizardValues;
      const pools = v.pools ?? [];
      const e = v.eligibility;
      let elig = '';
      if (e.scope === 'rule') elig = e.rule ?? '';
      if (e.scope === 'audience') elig = audiences.find((a) => a.id === e.audience_id)?.rule ?? '';
      const audienceRule = (id: number) => audiences.find((a) => a.id === id)?.rule ?? '';
      const days = Math.max(1, Math.ceil(dayjs(e.end).diff(dayjs(e.start), 'hour') / 24));
      const out: ForecastRow[] = [];
      for (let i = 0; i < pools.length; i++) {
        const rule = groupMembersRule(pools, i, elig, audienceRule);
        try {
          const members = rule === null ? 0 : (await request<{ count: number }>('POST', '/v1/segments/count', { rule })).count;
          const draws = expectedDraws(members, participation / 100, drawsEach);
          out.push({ key: i, poolId: pools[i].pool.id, rule, members, draws, forecast: forecastPool(pools[i].pool, draws, days, drawsEach) });
        } catch (err) {
          out.push({ key: i, poolId: pools[i].pool.id, rule, members: null, draws: 0, forecast: null, error: err instanceof ApiError ? err.message : String(err) });
        }
      }
      setRows(out);
    } finally {
      setBusy(false);
    }
  };
  const total = (rows ?? []).reduce((s, r) => s + (r.forecast?.costFen ?? 0), 0);
  return (
    <Card size="small" title={t('cost.title')} data-testid="cost-calculator">
      <Space wrap>
        <span>{t('cost.participation')}</span>
        <InputNumber min={0} max={100} value={participation} onChange={(v) => setParticipation(v ?? 0)} addonAfter="%" />
        <span>{t('cost.drawsEach')}</span>
        <InputNumber min={0} value={drawsEach} onChange={(v) => setDrawsEach(v ?? 0)} />
        <Button onClick={() => void run()} loading={busy} data-testid="cost-run">
          {t('cost.run')}
        </Button>
      </Space>
      {rows && (
        <>
          <Table<ForecastRow>
            style={{ marginTop: 12 }}
            size="small"
            pagination={false}
            dataSource={rows}
            columns={[
              { title: t('wizard.pool'), dataIndex: 'poolId' },
              { title: t('cost.who'), dataIndex: 'rule', render: (r: string | null) => (r === null ? t('cost.nobody') : <code>{r || t('wizard.everyone')}</code>) },
              { title: t('cost.members'), dataIndex: 'members', render: (v, r) => r.error ?? v?.toLocaleString() },
              { title: t('cost.draws'), dataIndex: 'draws', render: (v: number) => Math.round(v).toLocaleString() },
              { title: t('cost.perDraw'), render: (_, r) => (r.forecast ? `¥${formatYuan(r.forecast.costPerDrawFen)}` : '') },
              { title: t('cost.winRate'), render: (_, r) => (r.forecast ? `${(r.forecast.winRate * 100).toFixed(1)}%` : '') },
              {
                title: t('cost.exhausted'),
                render: (_, r) =>
                  r.forecast?.prizes
                    .filter((p) => p.exhaustedAfterDraws !== null && p.exhaustedAfterDraws < r.draws)
                    .map((p) => <Tag key={p.id} color="orange">{`${p.id} @ ${Math.round(p.exhaustedAfterDraws!).toLocaleString()}`}</Tag>),
              },
              { title: t('cost.expected'), render: (_, r) => (r.forecast ? `¥${formatYuan(r.forecast.costFen)}` : '') },
            ]}
          />
          <div style={{ marginTop: 8 }} data-testid="cost-total">
            {t('cost.total')}: <b>¥{formatYuan(total)}</b>
            {budget ? (
              total > budget ? (
                <Alert style={{ marginTop: 8 }} type="warning" showIcon message={t('cost.overBudget', { budget: formatYuan(budget) })} />
              ) : (
                <Typography.Text type="success"> ({t('cost.withinBudget', { budget: formatYuan(budget) })})</Typography.Text>
              )
            ) : null}
          </div>
        </>
      )}
    </Card>
  );
}

export default function ActivityWizard() {
  const { t } = useTranslation();
  const { id } = useParams();
  const nav = useNavigate();
  const { message } = App.useApp();
  const [form] = Form.useForm<WizardValues>();
  const [step, setStep] = useState(0);
  const [busy, setBusy] = useState(false);
  const audiences = useAudiences();
  const template = Form.useWatch(['display', 'template'], form) ?? 'wheel';
  const { banner, showProblem, clear } = useProblemForm(form);
  const scope = Form.useWatch(['eligibility', 'scope'], form);
  const isDraw = (DRAW_TEMPLATES as readonly string[]).includes(template);
  const init = useMemo(initialValues, []);

  useEffect(() => {
    if (!id) return;
    api.get('/v1/activities/{id}', { params: { id } }).then(
      (a) => form.setFieldsValue(fromTerms((a.terms ?? a.latest?.terms) as unknown as Terms) as never),
      (e) => message.error(String(e.message)),
    );
  }, [id, form, message]);

  const [preview, setPreview] = useState<{ page: string; expiresAt: string } | null>(null);
  // A new activity saved by a preview: later saves edit this draft instead of creating another.
  const [savedId, setSavedId] = useState<number | null>(null);
  const editId = id ?? (savedId === null ? undefined : String(savedId));

  // Validates and saves the form as the draft (created on first save); the activity id, or null
  // when the form or the server found a problem (shown inline).
  const persist = async (): Promise<number | null> => {
    clear();
    try {
      await form.validateFields();
    } catch (e) {
      const first = (e as { errorFields?: { name: (string | number)[] }[] }).errorFields?.[0];
      if (first) setStep(stepOf(first.name));
      return null;
    }
    try {
      const terms = toTerms(form.getFieldsValue(true) as WizardValues);
      const saved = editId
        ? await api.put('/v1/activities/{id}', terms as never, { params: { id: editId } })
        : await api.post('/v1/activities', terms as never);
      const aid = (saved as { id?: number }).id ?? Number(editId);
      if (!id) setSavedId(aid);
      return aid;
    } catch (e) {
      showProblem(e);
      if (e instanceof ApiError && e.problem.errors?.length) setStep(stepOf(fieldPath(e.problem.errors[0].field)));
      return null;
    }
  };

  // The H5 page of the saved draft, read-only, with a short-lived staff preview token.
  const openPreview = async () => {
    setBusy(true);
    try {
      const aid = await persist();
      if (aid === null) return;
      const r = await api.post('/v1/activities/{id}/preview-token', {}, { params: { id: aid } });
      setPreview({ page: r.page ?? '', expiresAt: r.expires_at ?? '' });
    } catch (e) {
      showProblem(e);
    } finally {
      setBusy(false);
    }
  };

  const save = async (submit: boolean) => {
    setBusy(true);
    try {
      const aid = await persist();
      if (aid === null) return;
      if (submit) {
        await api.post('/v1/activities/{id}/submit', {}, { params: { id: aid } });
        message.success(t('wizard.submitted'));
      } else {
        message.success(t('wizard.saved'));
      }
      nav(`/activities/${aid}`);
    } catch (e) {
      showProblem(e);
      if (e instanceof ApiError && e.problem.errors?.length) setStep(stepOf(fieldPath(e.problem.errors[0].field)));
    } finally {
      setBusy(false);
    }
  };

  const steps = [t('wizard.stepBasics'), t('wizard.stepEligibility'), t('wizard.stepChances'), t('wizard.stepPools')];
  const show = (i: number) => ({ display: step === i ? 'block' : 'none' });
  const range = PRIZE_RANGE[template];

  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Typography.Title level={4} style={{ margin: 0 }}>
        {id ? t('wizard.editTitle', { id }) : t('wizard.title')}
      </Typography.Title>
      <Steps current={step} onChange={setStep} items={steps.map((s) => ({ title: s }))} />
      {banner.length > 0 && <Alert type="error" showIcon message={banner.map((b) => <div key={b}>{b}</div>)} data-testid="wizard-error" />}
      <Form form={form} layout="vertical" initialValues={init} scrollToFirstError>
        <div style={show(0)}>
          <Card>
            <Form.Item name={['display', 'template']} label={t('wizard.template')}>
              <Radio.Group
                optionType="button"
                options={TEMPLATES.map((x) => ({ value: x, label: t(`template.${x}`) }))}
                onChange={(e) => {
                  const tpl = e.target.value as string;
                  if (tpl === 'sign_in') {
                    form.setFieldValue(['display', 'settings'], {
                      cycle_days: 7,
                      missed_day: 'resets_streak',
                      streak_rewards: [
                        { day: 1, reward: { kind: 'points', amount: 5 } },
                        { day: 7, reward: { kind: 'points', amount: 50 } },
                      ],
                      make_up: { per_cycle: 1, points_cost: 20 },
                    });
                    form.setFieldValue(['chances', 'free_per_day'], 0);
                  } else if (tpl === 'quiz') {
                    form.setFieldValue(['display', 'settings'], { questions: [{ text: '', type: 'single', options: [], answers: [], score: 10 }], pass_score: 10, reward: { kind: 'points', amount: 50 }, attempts_per_day: 1 });
                  }
                  else form.setFieldValue(['display', 'settings'], tpl === 'wheel' ? { spin_ms: 4000 } : tpl === 'golden_egg' ? { eggs: 6 } : tpl === 'blind_box' ? { boxes: 6 } : {});
                }}
                data-testid="template"
              />
            </Form.Item>
            <Row gutter={16}>
              <Col span={12}>
                <Form.Item name="name" label={t('wizard.name')} rules={[{ required: true, message: t('form.required') }]}>
                  <Input data-testid="activity-name" />
                </Form.Item>
              </Col>
              <Col span={12}>
                <Form.Item name={['display', 'title']} label={t('wizard.displayTitle')} rules={[{ required: true, message: t('form.required') }]}>
                  <Input data-testid="activity-title" />
                </Form.Item>
              </Col>
            </Row>
            <Form.Item name="description" label={t('wizard.description')}>
              <Input.TextArea autoSize={{ minRows: 2 }} />
            </Form.Item>
            <Row gutter={16}>
              <Col span={6}>
                <Form.Item name={['display', 'theme']} label={t('wizard.theme')}>
                  <Select options={['default', 'festive', 'spring_festival', 'double11'].map((x) => ({ value: x, label: t(`theme.${x}`) }))} />
                </Form.Item>
              </Col>
              {template === 'wheel' && (
                <Col span={6}>
                  <Form.Item name={['display', 'settings', 'spin_ms']} label={t('wizard.spinMs')}>
                    <InputNumber min={500} max={10000} step={500} style={{ width: '100%' }} />
                  </Form.Item>
                </Col>
              )}
              {template === 'golden_egg' && (
                <Col span={6}>
                  <Form.Item name={['display', 'settings', 'eggs']} label={t('wizard.eggs')}>
                    <InputNumber min={3} max={12} style={{ width: '100%' }} />
                  </Form.Item>
                </Col>
              )}
              {template === 'blind_box' && (
                <Col span={6}>
                  <Form.Item name={['display', 'settings', 'boxes']} label={t('wizard.boxes')}>
                    <InputNumber min={1} max={12} style={{ width: '100%' }} />
                  </Form.Item>
                </Col>
              )}
              {template === 'scratch_card' && (
                <Col span={6}>
                  <Form.Item name={['display', 'settings', 'cover_text']} label={t('wizard.coverText')}>
                    <Input maxLength={20} />
                  </Form.Item>
                </Col>
              )}
            </Row>
            {template === 'sign_in' && <SignInSettings />}
            {template === 'quiz' && <QuizSettings />}
          </Card>
        </div>
        <div style={show(1)}>
          <Card>
            <Form.Item name={['eligibility', 'scope']} label={t('wizard.who')}>
              <Radio.Group
                options={[
                  { value: 'all', label: t('wizard.everyone') },
                  { value: 'audience', label: t('wizard.audience') },
                  { value: 'rule', label: t('wizard.rule') },
                ]}
              />
            </Form.Item>
            {scope === 'audience' && (
              <Form.Item name={['eligibility', 'audience_id']} label={t('wizard.audience')} rules={[{ required: true, message: t('form.required') }]}>
                <TestId id="eligibility-audience" block><Select options={audiences.map((a) => ({ value: a.id, label: `${a.name} (${a.count?.toLocaleString() ?? '?'})` }))} /></TestId>
              </Form.Item>
            )}
            {scope === 'rule' && (
              <Form.Item name={['eligibility', 'rule']} label={t('wizard.rule')} rules={[{ required: true, message: t('form.required') }]}>
                <Input style={{ fontFamily: 'monospace' }} placeholder='age >= 18 and has_app = true' data-testid="eligibility-rule" />
              </Form.Item>
            )}
            <Row gutter={16}>
              <Col span={12}>
                <Form.Item name={['eligibility', 'start']} label={t('wizard.start')} {...timeField} rules={[{ required: true, message: t('form.required') }]}>
                  <TestId id="eligibility-start" block><DatePicker showTime style={{ width: '100%' }} /></TestId>
                </Form.Item>
              </Col>
              <Col span={12}>
                <Form.Item name={['eligibility', 'end']} label={t('wizard.end')} {...timeField} rules={[{ required: true, message: t('form.required') }]}>
                  <TestId id="eligibility-end" block><DatePicker showTime style={{ width: '100%' }} /></TestId>
                </Form.Item>
              </Col>
            </Row>
            <Form.Item name={['eligibility', 'channels']} label={t('wizard.channels')}>
              <Checkbox.Group options={CHANNELS.map((c) => ({ value: c, label: t(`channel.${c}`) }))} />
            </Form.Item>
            <Row gutter={16}>
              <Col span={12}>
                <Form.Item name={['eligibility', 'white_list']} label={t('wizard.whiteList')} tooltip={t('wizard.listHint')}>
                  <Select mode="tags" tokenSeparators={[',', ' ', '\n']} open={false} />
                </Form.Item>
              </Col>
              <Col span={12}>
                <Form.Item name={['eligibility', 'black_list']} label={t('wizard.blackList')} tooltip={t('wizard.listHint')}>
                  <Select mode="tags" tokenSeparators={[',', ' ', '\n']} open={false} />
                </Form.Item>
              </Col>
            </Row>
          </Card>
        </div>
        <div style={show(2)}>
          <Card>
            <Row gutter={16}>
              <Col span={6}>
                <Form.Item name={['chances', 'free_per_day']} label={t('wizard.freePerDay')}>
                  <InputNumber min={0} max={1000} style={{ width: '100%' }} data-testid="free-per-day" />
                </Form.Item>
              </Col>
              <Col span={6}>
                <Form.Item name={['chances', 'points_cost']} label={t('wizard.pointsCost')}>
                  <InputNumber min={0} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
              <Col span={6}>
                <Form.Item name={['chances', 'max_per_day']} label={t('wizard.maxPerDay')} tooltip={t('wizard.zeroNoLimit')}>
                  <InputNumber min={0} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
              <Col span={6}>
                <Form.Item name={['chances', 'max_total']} label={t('wizard.maxTotal')} tooltip={t('wizard.zeroNoLimit')}>
                  <InputNumber min={0} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
            </Row>
            <Form.Item name="budget_fen" label={t('wizard.budget')} tooltip={t('wizard.budgetHint')} {...fenAsYuan}>
              <InputNumber min={0} precision={2} addonBefore="¥" style={{ width: 240 }} data-testid="budget" />
            </Form.Item>
          </Card>
        </div>
        <div style={show(3)}>
          {!isDraw && <Alert type="info" message={t('wizard.noPools')} />}
          {isDraw && (
            <Form.List name="pools">
              {(fields, { add, remove }) => (
                <Space direction="vertical" style={{ width: '100%' }}>
                  <Typography.Text type="secondary">
                    {t('wizard.poolsHint')} {range && t('wizard.prizeRange', { lo: range[0], hi: range[1] })}
                  </Typography.Text>
                  {fields.map((f) => (
                    <Card
                      key={f.key}
                      size="small"
                      data-testid={`pool-${f.name}`}
                      title={
                        <Space>
                          <span>{t('wizard.pool')} {f.name + 1}</span>
                          <Form.Item name={[f.name, 'pool', 'id']} noStyle>
                            <Input style={{ width: 120 }} placeholder="id" data-testid="pool-id" />
                          </Form.Item>
                          <Form.Item name={[f.name, 'pool', 'name']} noStyle>
                            <Input style={{ width: 200 }} placeholder={t('wizard.poolName')} data-testid="pool-name" />
                          </Form.Item>
                        </Space>
                      }
                      extra={<Button size="small" danger icon={<DeleteOutlined />} onClick={() => remove(f.name)} />}
                    >
                      <Form.Item name={[f.name, 'group']} label={t('wizard.group')}>
                        <GroupInput audiences={audiences} />
                      </Form.Item>
                      <PrizeRows poolIndex={f.name} />
                      <Divider style={{ margin: '12px 0' }} />
                      <Space wrap>
                        <Form.Item name={[f.name, 'pool', 'fallback_prize_id']} label={t('wizard.fallback')} tooltip={t('wizard.fallbackHint')}>
                          <Input style={{ width: 140 }} />
                        </Form.Item>
                        <Form.Item name={[f.name, 'pool', 'guarantee_after']} label={t('wizard.guarantee')} tooltip={t('wizard.guaranteeHint')}>
                          <InputNumber min={0} max={10000} />
                        </Form.Item>
                      </Space>
                    </Card>
                  ))}
                  <Button icon={<PlusOutlined />} onClick={() => add(newPool(fields.length + 1, { rule: '' }), 0)} data-testid="add-pool">
                    {t('wizard.addPool')}
                  </Button>
                  <CostCalculator audiences={audiences} />
                </Space>
              )}
            </Form.List>
          )}
        </div>
      </Form>
      <Space>
        <Button disabled={step === 0} onClick={() => setStep(step - 1)}>
          {t('wizard.prev')}
        </Button>
        {step < steps.length - 1 && (
          <Button type="primary" onClick={() => setStep(step + 1)} data-testid="wizard-next">
            {t('wizard.next')}
          </Button>
        )}
        <Button onClick={() => void save(false)} loading={busy} data-testid="wizard-save">
          {t('wizard.saveDraft')}
        </Button>
        <Button onClick={() => void openPreview()} loading={busy} data-testid="wizard-preview">
          {t('wizard.preview')}
        </Button>
        <Button type="primary" onClick={() => void save(true)} loading={busy} data-testid="wizard-submit">
          {t('wizard.saveSubmit')}
        </Button>
      </Space>
      <Modal
        open={preview !== null}
        onCancel={() => setPreview(null)}
        footer={
          <Space>
            <Typography.Text type="secondary">{t('wizard.previewNote', { at: preview ? dayjs(preview.expiresAt).format('HH:mm') : '' })}</Typography.Text>
            <a href={preview?.page} target="_blank" rel="noreferrer" data-testid="wizard-preview-tab">
              {t('wizard.previewNewTab')}
            </a>
          </Space>
        }
        title={t('wizard.preview')}
        width={440}
        destroyOnClose
      >
        {preview && (
          <iframe
            title={t('wizard.preview')}
            src={preview.page}
            data-testid="wizard-preview-frame"
            style={{ width: 375, height: 667, border: '1px solid #eee', display: 'block', margin: '0 auto' }}
          />
        )}
      </Modal>
    </Space>
  );
}
