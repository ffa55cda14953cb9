// Audience builder: visual rule tree <-> DSL text, a live count as the rule changes, breakdown
// charts (province, level, age band) and saving as an audience.
import { Alert, App, Button, Card, Col, Form, Input, Row, Space, Statistic, Typography } from 'antd';
import ReactECharts from 'echarts-for-react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router-dom';
import { api, request } from '../api/client';
import { ApiError } from '../api/problem';
import { useTags } from '../api/tags';
import { useAuth } from '../auth';
import { GroupEditor } from '../components/RuleTreeEditor';
import { useProblemForm } from '../components/useProblemForm';
import { DslError, parseRule, printRule } from '../rules/dsl';
import { emptyGroup, fromRule, incomplete, toRule, type Group } from '../rules/tree';

interface Bucket {
  label: string;
  count: number;
}
interface Insight {
  count: number;
  total: number;
  share: number;
  took_ms: number;
  province: Bucket[];
  level: Bucket[];
  age: Bucket[];
}

// Age bands: [18,25) [25,35) ... as the breakdown's ascending boundaries.
export const AGE_BOUNDARIES = [18, 25, 35, 45, 55, 65, 86];

export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const h = setTimeout(() => setV(value), ms);
    return () => clearTimeout(h);
  }, [value, ms]);
  return v;
}

export default function AudienceBuilder() {
  const { t } = useTranslation();
  const { id } = useParams();
  const nav = useNavigate();
  const { message } = App.useApp();
  const { can } = useAuth();
  const tags = useTags();
  const [tree, setTree] = useState<Group>(() => emptyGroup());
  const [text, setText] = useState('');
  const [parseError, setParseError] = useState<string | null>(null);
  const [serverError, setServerError] = useState<string | null>(null);
  const [insight, setInsight] = useState<Insight | null>(null);
  const [counting, setCounting] = useState(false);
  const [form] = Form.useForm();
  const { banner, showProblem, clear } = useProblemForm(form, undefined, (p) => p[0] === 'name' || p[0] === 'description');
  const seq = useRef(0);

  const rule = useMemo(() => printRule(toRule(tree)), [tree]);
  const complete = incomplete(tree).length === 0;
  const debounced = useDebounced(!parseError ? rule : null, 400);

  useEffect(() => {
    if (!id) return;
    api.get('/v1/audiences/{id}', { params: { id } }).then(
      (a) => {
        form.setFieldsValue({ name: a.name, description: a.description });
        setText(a.rule ?? '');
        try {
          setTree(fromRule(parseRule(a.rule ?? '')));
        } catch (e) {
          setParseError(String((e as Error).message));
        }
      },
      (e) => message.error(String(e.message)),
    );
  }, [id, form, message]);

  const onTree = (g: Group) => {
    setTree(g);
    setText(printRule(toRule(g)));
    setParseError(null);
  };
  const onText = (s: string) => {
    setText(s);
    try {
      setTree(fromRule(parseRule(s)));
      setParseError(null);
    } catch (e) {
      if (e instanceof DslError) setParseError(e.message);
      else throw e;
    }
  };

  const refresh = useCallback(async (r: string) => {
    const mine = ++seq.current;
    setCounting(true);
    try {
      const body = { rule: r };
      const [count, province, level, age] = await Promise.all([
        request<{ count: number; total: number; share: number; took_ms: number }>('POST', '/v1/segments/count', body),
        request<{ buckets: Bucket[] }>('POST', '/v1/segments/breakdown', { ...body, by: 'province' }),
        request<{ buckets: Bucket[] }>('POST', '/v1/segments/breakdown', { ...body, by: 'level' }),
        request<{ buckets: Bucket[] }>('POST', '/v1/segments/breakdown', { ...body, by: 'age', boundaries: AGE_BOUNDARIES }),
      ]);
      if (mine !== seq.current) return;
      setServerError(null);
      setInsight({ ...count, province: province.buckets, level: level.buckets, age: age.buckets });
    } catch (e) {
      if (mine !== seq.current) return;
      setInsight(null);
      setServerError(e instanceof ApiError ? (e.problem.errors?.map((x) => x.reason).join('; ') ?? e.message) : String(e));
    } finally {
      if (mine === seq.current) setCounting(false);
    }
  }, []);

  useEffect(() => {
    if (debounced !== null) void refresh(debounced);
  }, [debounced, refresh]);

  const save = async (v: { name: string; description?: string }) => {
    clear();
    try {
      if (id) {
        await api.patch('/v1/audiences/{id}', { name: v.name, description: v.description ?? '', rule: rule }, { params: { id } });
      } else {
        const created = (await api.post('/v1/audiences', { name: v.name, description: v.description ?? '', rule })) as { id?: number };
        if (created?.id) nav(`/audiences/${created.id}`, { replace: true });
      }
      message.success(t('audience.saved'));
    } catch (e) {
      if (e instanceof ApiError && e.problem.errors?.some((x) => x.field === 'rule')) {
        setServerError(e.problem.errors.filter((x) => x.field === 'rule').map((x) => x.reason).join('; '));
      }
      showProblem(e);
    }
  };

  const bar = (b: Bucket[], horizontal = false) => ({
    grid: { left: horizontal ? 70 : 40, right: 20, top: 20, bottom: 30 },
    tooltip: {},
    xAxis: horizontal ? { type: 'value' } : { type: 'category', data: b.map((x) => x.label), axisLabel: { interval: 0 } },
    yAxis: horizontal ? { type: 'category', data: b.map((x) => x.label), inverse: true } : { type: 'value' },
    series: [{ type: 'bar', data: b.map((x) => x.count), itemStyle: { color: '#c8102e' } }],
  });
  const topProvinces = (insight?.province ?? []).filter((b) => b.count > 0).sort((a, b) => b.count - a.count).slice(0, 12);

  return (
    <Space direction="vertical" size="large" style={{ width: '100%' }}>
      <Typography.Title level={4} style={{ margin: 0 }}>
        {id ? t('audience.edit') : t('audience.new')}
      </Typography.Title>
      <Row gutter={16}>
        <Col span={16}>
          <GroupEditor group={tree} tags={tags} onChange={onTree} />
          <Card size="small" title={t('audience.dsl')} style={{ marginTop: 16 }}>
            <Input.TextArea
              value={text}
              onChange={(e) => onText(e.target.value)}
              autoSize={{ minRows: 2, maxRows: 8 }}
              style={{ fontFamily: 'monospace' }}
              status={parseError || serverError ? 'error' : undefined}
              data-testid="dsl-text"
            />
            {parseError && <Typography.Text type="danger" data-testid="dsl-error">{parseError}</Typography.Text>}
            {!parseError && serverError && <Typography.Text type="danger" data-testid="dsl-error">{serverError}</Typography.Text>}
            {!parseError && !complete && <Typography.Text type="warning">{t('audience.incomplete')}</Typography.Text>}
            {!parseError && rule !== text.trim() && complete && (
              <div>
                <Typography.Text type="secondary">
                  {t('audience.canonical')}: <code data-testid="dsl-canonical">{rule}</code>
                </Typography.Text>
              </div>
            )}
          </Card>
        </Col>
        <Col span={8}>
          <Card size="small" title={t('audience.liveCount')} loading={false}>
            <Statistic
              value={insight ? insight.count : '—'}
              suffix={insight ? `/ ${insight.total.toLocaleString()}` : ''}
              valueStyle={{ color: counting ? '#999' : undefined }}
              formatter={(v) => <span data-testid="live-count">{typeof v === 'number' ? v.toLocaleString() : v}</span>}
            />
            {insight && (
              <Typography.Text type="secondary">
                {(insight.share * 100).toFixed(2)}% · {insight.took_ms.toFixed(2)} ms
              </Typography.Text>
            )}
          </Card>
          {can('audiences:write') && (
            <Card size="small" title={t('audience.save')} style={{ marginTop: 16 }}>
              {banner.length > 0 && <Alert type="error" message={banner.join('; ')} style={{ marginBottom: 8 }} />}
              <Form form={form} layout="vertical" onFinish={save}>
                <Form.Item name="name" label={t('audience.name')} rules={[{ required: true, message: t('form.required') }]}>
                  <Input data-testid="audience-name" />
                </Form.Item>
                <Form.Item name="description" label={t('audience.description')}>
                  <Input.TextArea autoSize />
                </Form.Item>
                <Button type="primary" htmlType="submit" disabled={!!parseError || !complete} data-testid="audience-save">
                  {t('audience.save')}
                </Button>
              </Form>
            </Card>
          )}
        </Col>
      </Row>
      {insight && (
        <Row gutter={16}>
          <Col span={10}>
            <Card size="small" title={t('audience.byProvince')}>
              <ReactECharts option={bar(topProvinces, true)} style={{ height: 320 }} notMerge />
            </Card>
          </Col>
          <Col span={7}>
            <Card size="small" title={t('audience.byLevel')}>
              <ReactECharts
                option={{
                  tooltip: { trigger: 'item' },
                  legend: { bottom: 0 },
                  series: [{ type: 'pie', radius: ['35%', '65%'], data: insight.level.map((b) => ({ name: t(`level.${b.label}`, { defaultValue: b.label }), value: b.count })) }],
                }}
                style={{ height: 320 }}
                notMerge
              />
            </Card>
          </Col>
          <Col span={7}>
            <Card size="small" title={t('audience.byAge')}>
              <ReactECharts option={bar(insight.age)} style={{ height: 320 }} notMerge />
            </Card>
          </Col>
        </Row>
      )}
    </Space>
  );
}
