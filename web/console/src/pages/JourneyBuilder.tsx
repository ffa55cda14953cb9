// The journey builder: trigger (audience rule, date tag, event, lifecycle change), the steps
// (wait, branch on a rule or an event, send / points / task actions) with their links, goal,
// re-entry and holdout; a preview (journey/preview.ts) of whom the trigger would admit, the
// holdout split, the path a customer follows and each message for a sample member; saving
// creates a draft whose page submits it for approval. The API's field errors show on the
// fields ("steps[1].next"), the rest above the form.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import type { FormInstance } from 'antd';
import { Alert, Button, Card, Checkbox, Col, Descriptions, Form, Input, InputNumber, List, Radio, Row, Select, Space, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router-dom';
import { api, request, type Schemas } from '../api/client';
import { useTags } from '../api/tags';
import { TestId } from '../components/TestId';
import { useProblemForm } from '../components/useProblemForm';
import { changedPaths, previewJourney, toDefinition, type FlowLine, type JourneyPreview, type JourneyValues } from '../journey/preview';

type Template = Schemas['MessageTemplate'];
const CHANNELS = ['sms', 'app_push', 'in_app', 'wechat_oa', 'wecom', 'email'];

export function JourneyBuilder() {
  const { t } = useTranslation();
  const nav = useNavigate();
  const [form] = Form.useForm<JourneyValues>();
  const { banner, showProblem, clear } = useProblemForm(form);
  const tags = useTags();
  const [templates, setTemplates] = useState<Template[]>([]);
  const [events, setEvents] = useState<string[]>([]);
  const [windowDays, setWindowDays] = useState(7);
  const [preview, setPreview] = useState<JourneyPreview | null>(null);
  const [busy, setBusy] = useState(false);
  const triggerType = Form.useWatch(['trigger', 'type'], form);
  const steps = (Form.useWatch('steps', form) ?? []) as JourneyValues['steps'];
  const reentry = Form.useWatch(['reentry', 'policy'], form);
  const stepIds = steps.map((s) => s?.id).filter(Boolean) as string[];
  const stages = tags.find((x) => x.key === 'lifecycle')?.values ?? [];

  useEffect(() => {
    void api.get('/v1/templates', { query: { status: 'approved', limit: 200 } }).then((r) => setTemplates(((r as { templates?: Template[] }).templates ?? []) as Template[]), () => {});
    void request<{ types?: { type?: string; name?: string }[] } | { type?: string }[]>('GET', '/v1/events/types').then(
      (r) => setEvents((Array.isArray(r) ? r : (r.types ?? [])).map((x) => String(x.type ?? (x as { name?: string }).name ?? '')).filter(Boolean)),
      () => {},
    );
  }, []);

  // The definition from the form, or null after marking the bad variables line.
  const definition = () => {
    const v = form.getFieldsValue(true) as JourneyValues;
    try {
      return toDefinition(v);
    } catch (e) {
      const i = (v.steps ?? []).findIndex((s) => {
        try {
          toDefinition({ ...v, steps: [s] });
          return false;
        } catch {
          return true;
        }
      });
      form.setFields([{ name: ['steps', Math.max(i, 0), 'variables_text'], errors: [e instanceof Error ? e.message : String(e)] }]);
      return null;
    }
  };
  const runPreview = async () => {
    clear();
    const def = definition();
    if (!def) return;
    setBusy(true);
    try {
      setPreview(await previewJourney(request, def, windowDays));
    } catch (e) {
      setPreview(null);
      showProblem(e);
    } finally {
      setBusy(false);
    }
  };
  const save = async () => {
    clear();
    const def = definition();
    if (!def) return;
    try {
      const j = await request<{ id: number }>('POST', '/v1/journeys', def);
      nav(`/journeys/${j.id}`);
    } catch (e) {
      showProblem(e);
    }
  };
  const stepOptions = [{ value: '', label: t('jb.end') }, ...stepIds.map((id) => ({ value: id, label: id }))];
  const { describe, channelLabel } = useFlowText(templates);

  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('jb.new')}
      </Typography.Title>
      {banner.length > 0 && <Alert type="error" showIcon message={banner.join('; ')} data-testid="journey-banner" />}
      <Card>
        <Form
          form={form}
          layout="vertical"
          onFinish={() => void save()}
          onValuesChange={(changed) => (form as FormInstance).setFields(changedPaths(changed).map((name) => ({ name, errors: [] })))}
          initialValues={{
            trigger: { type: 'audience', rule: '' },
            steps: [{ id: 'welcome', type: 'action', action: 'send', channel: 'sms', purpose: 'marketing' }],
            goal: { within: '14d' },
            reentry: { policy: 'once' },
            holdout_percent: 10,
          }}
        >
          <Row gutter={16}>
            <Col span={12}>
              <Form.Item name="name" label={t('wizard.name')} rules={[{ required: true, message: t('form.required') }]}>
                <Input data-testid="journey-name" />
              </Form.Item>
            </Col>
            <Col span={6}>
              <Form.Item name="holdout_percent" label={t('campaign.holdoutPercent')}>
                <InputNumber min={0} max={50} addonAfter="%" style={{ width: '100%' }} data-testid="journey-holdout" />
              </Form.Item>
            </Col>
          </Row>
          <Form.Item name={['trigger', 'type']} label={t('jb.trigger')}>
            <Radio.Group data-testid="journey-trigger-type" options={(['audience', 'date', 'event', 'lifecycle'] as const).map((x) => ({ value: x, label: t(`journey.triggers.${x}`) }))} />
          </Form.Item>
          {triggerType === 'audience' && (
            <Form.Item name={['trigger', 'rule']} label={t('jb.rule')}>
              <Input style={{ fontFamily: 'monospace' }} placeholder='aum >= 500000 and level = "gold"' data-testid="journey-rule" />
            </Form.Item>
          )}
          {triggerType === 'date' && (
            <Row gutter={16}>
              <Col span={8}>
                <Form.Item name={['trigger', 'tag']} label={t('jb.tag')}>
                  <TestId id="journey-date-tag" block>
                    <Select options={tags.filter((x) => x.type === 'date').map((x) => ({ value: x.key, label: `${x.name_zh || x.key} (${x.key})` }))} />
                  </TestId>
                </Form.Item>
              </Col>
              <Col span={6}>
                <Form.Item name={['trigger', 'offset_days']} label={t('jb.offsetDays')} tooltip={t('jb.offsetHelp')}>
                  <InputNumber min={-366} max={366} style={{ width: '100%' }} data-testid="journey-offset" />
                </Form.Item>
              </Col>
              <Col span={4}>
                <Form.Item name={['trigger', 'at']} label={t('jb.at')}>
                  <Input placeholder="09:00" />
                </Form.Item>
              </Col>
              <Col span={6}>
                <Form.Item name={['trigger', 'annual']} valuePropName="checked" label=" ">
                  <Checkbox>{t('jb.annual')}</Checkbox>
                </Form.Item>
              </Col>
            </Row>
          )}
          {triggerType === 'event' && (
            <Form.Item name={['trigger', 'event']} label={t('jb.event')}>
              <TestId id="journey-event" block>
                <Select showSearch options={events.map((e) => ({ value: e, label: t(`event.${e}`, { defaultValue: e }) }))} />
              </TestId>
            </Form.Item>
          )}
          {triggerType === 'lifecycle' && (
            <Row gutter={16}>
              <Col span={8}>
                <Form.Item name={['trigger', 'from']} label={t('jb.from')}>
                  <Select allowClear options={stages.map((s) => ({ value: s, label: s }))} />
                </Form.Item>
              </Col>
              <Col span={8}>
                <Form.Item name={['trigger', 'to']} label={t('jb.to')}>
                  <Select allowClear options={stages.map((s) => ({ value: s, label: s }))} />
                </Form.Item>
              </Col>
            </Row>
          )}
          <Typography.Text strong>{t('jb.steps')}</Typography.Text>
          <Form.List name="steps">
            {(fields, { add, remove }) => (
              <div>
                {fields.map((f, i) => {
                  const s = steps[i] ?? ({} as JourneyValues['steps'][number]);
                  return (
                    <Card key={f.key} size="small" style={{ marginTop: 8 }} data-testid={`journey-step-${i}`}>
                      <Space align="start" wrap>
                        <Form.Item name={[f.name, 'id']} label={t('jb.stepId')}>
                          <Input style={{ width: 120 }} data-testid={`step-${i}-id`} />
                        </Form.Item>
                        <Form.Item name={[f.name, 'type']} label={t('jb.type')}>
                          <TestId id={`step-${i}-type`}>
                            <Select style={{ width: 110 }} options={(['wait', 'branch', 'action'] as const).map((x) => ({ value: x, label: t(`jb.types.${x}`) }))} />
                          </TestId>
                        </Form.Item>
                        {s.type === 'wait' && (
                          <Form.Item name={[f.name, 'duration']} label={t('jb.duration')}>
                            <Input style={{ width: 140 }} data-testid={`step-${i}-duration`} />
                          </Form.Item>
                        )}
                        {s.type === 'branch' && (
                          <>
                            <Form.Item name={[f.name, 'on']} label=" " initialValue="rule">
                              <Radio.Group options={(['rule', 'event'] as const).map((x) => ({ value: x, label: t(`jb.branchOn.${x}`) }))} />
                            </Form.Item>
                            {(s.on ?? 'rule') === 'rule' ? (
                              <Form.Item name={[f.name, 'rule']} label={t('jb.rule')}>
                                <Input style={{ width: 240, fontFamily: 'monospace' }} data-testid={`step-${i}-rule`} />
                              </Form.Item>
                            ) : (
                              <>
                                <Form.Item name={[f.name, 'event']} label={t('jb.event')}>
                                  <Select style={{ width: 160 }} options={events.map((e) => ({ value: e, label: t(`event.${e}`, { defaultValue: e }) }))} />
                                </Form.Item>
                                <Form.Item name={[f.name, 'within']} label={t('jb.within')}>
                                  <Input style={{ width: 100 }} />
                                </Form.Item>
                              </>
                            )}
                            <Form.Item name={[f.name, 'then']} label={t('jb.then')}>
                              <Select style={{ width: 120 }} options={stepOptions} />
                            </Form.Item>
                            <Form.Item name={[f.name, 'else']} label={t('jb.else')}>
                              <Select style={{ width: 120 }} options={stepOptions} />
                            </Form.Item>
                          </>
                        )}
                        {s.type === 'action' && (
                          <>
                            <Form.Item name={[f.name, 'action']} label={t('jb.types.action')}>
                              <Select style={{ width: 170 }} options={(['send', 'points', 'task'] as const).map((x) => ({ value: x, label: t(`jb.actions.${x}`) }))} />
                            </Form.Item>
                            {(s.action ?? 'send') === 'send' && (
                              <>
                                <Form.Item name={[f.name, 'channel']} label={t('campaign.channel')}>
                                  <Select style={{ width: 130 }} options={CHANNELS.map((c) => ({ value: c, label: channelLabel(c) }))} />
                                </Form.Item>
                                <Form.Item name={[f.name, 'template_id']} label={t('workbench.template')}>
                                  <TestId id={`step-${i}-template`}>
                                    <Select
                                      style={{ width: 240 }}
                                      options={templates.filter((x) => !s.channel || x.channel === s.channel).map((x) => ({ value: String(x.id), label: `${x.name} · ${x.channel}` }))}
                                    />
                                  </TestId>
                                </Form.Item>
                                <Form.Item name={[f.name, 'purpose']} label={t('campaign.purpose')}>
                                  <Select style={{ width: 110 }} options={['marketing', 'service'].map((p) => ({ value: p, label: t(`campaign.purposes.${p}`) }))} />
                                </Form.Item>
                                <Form.Item name={[f.name, 'variables_text']} label={t('jb.variables')}>
                                  <Input.TextArea rows={1} style={{ width: 220 }} placeholder="product=稳盈90天" data-testid={`step-${i}-variables`} />
                                </Form.Item>
                              </>
                            )}
                            {s.action === 'points' && (
                              <Form.Item name={[f.name, 'points']} label={t('jb.points')}>
                                <InputNumber min={1} style={{ width: 120 }} />
                              </Form.Item>
                            )}
                            {s.action === 'task' && (
                              <Form.Item name={[f.name, 'title']} label={t('jb.title')}>
                                <Input style={{ width: 220 }} />
                              </Form.Item>
                            )}
                          </>
                        )}
                        {s.type !== 'branch' && (
                          <Form.Item name={[f.name, 'next']} label={t('jb.next')}>
                            <TestId id={`step-${i}-next`}>
                              <Select style={{ width: 120 }} options={stepOptions} />
                            </TestId>
                          </Form.Item>
                        )}
                        <Form.Item label=" ">
                          <Button icon={<DeleteOutlined />} onClick={() => remove(f.name)} disabled={fields.length <= 1} />
                        </Form.Item>
                      </Space>
                    </Card>
                  );
                })}
                <Button size="small" style={{ marginTop: 8 }} icon={<PlusOutlined />} data-testid="journey-add-step" onClick={() => add({ id: `s${fields.length + 1}`, type: 'wait', duration: '1d' })} disabled={fields.length >= 64}>
                  {t('jb.addStep')}
                </Button>
              </div>
            )}
          </Form.List>
          <Row gutter={16} style={{ marginTop: 16 }}>
            <Col span={6}>
              <Form.Item name={['goal', 'event']} label={t('jb.goal')}>
                <TestId id="journey-goal" block>
                  <Select allowClear options={events.map((e) => ({ value: e, label: t(`event.${e}`, { defaultValue: e }) }))} />
                </TestId>
              </Form.Item>
            </Col>
            <Col span={4}>
              <Form.Item name={['goal', 'within']} label={t('jb.goalWithin')}>
                <Input placeholder="14d" />
              </Form.Item>
            </Col>
            <Col span={6}>
              <Form.Item name={['reentry', 'policy']} label={t('jb.reentry')}>
                <Radio.Group options={[{ value: 'once', label: t('jb.once') }, { value: 'after', label: t('jb.after') }]} />
              </Form.Item>
            </Col>
            {reentry === 'after' && (
              <Col span={4}>
                <Form.Item name={['reentry', 'days']} label={t('jb.days')}>
                  <InputNumber min={1} max={3660} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
            )}
          </Row>
          <Space>
            <Button type="primary" htmlType="submit" data-testid="journey-save">
              {t('jb.save')}
            </Button>
            <Button loading={busy} onClick={() => void runPreview()} data-testid="journey-preview">
              {t('jb.preview')}
            </Button>
            {triggerType === 'date' && (
              <Space>
                <span>{t('jb.windowDays')}</span>
                <InputNumber min={1} max={31} value={windowDays} onChange={(v) => setWindowDays(v ?? 7)} />
              </Space>
            )}
          </Space>
        </Form>
      </Card>
      {preview && <PreviewCard p={preview} describe={describe} channelLabel={channelLabel} stage={String(form.getFieldValue(['trigger', 'from']) ?? '')} />}
    </Space>
  );
}

// How a path line and a channel read in the operator's language.
function useFlowText(templates: Template[]) {
  const { t } = useTranslation();
  const channelLabel = (c: string) => t(`campaign.channels.${c}`, { defaultValue: c });
  const templateName = (id?: string) => templates.find((x) => String(x.id) === id)?.name ?? id ?? '—';

  const describe = (l: FlowLine) => {
    if (l.end) return t('jb.end');
    if (l.goto) return t('jb.goto', { id: l.goto });
    if (l.missing) return t('jb.missing', { id: l.missing });
    const s = l.step!;
    if (s.type === 'wait') return t('jb.wait', { d: s.duration ?? '' });
    if (s.type === 'branch') return s.rule ? t('jb.branchRule', { rule: s.rule }) : t('jb.branchEvent', { event: t(`event.${s.event}`, { defaultValue: String(s.event ?? '') }), within: s.within ?? '' });
    if (s.action === 'send') return t('jb.send', { channel: channelLabel(String(s.channel ?? '')), tpl: templateName(s.template_id as string | undefined) });
    if (s.action === 'points') return t('jb.givePoints', { n: s.points ?? 0 });
    return t('jb.task', { title: s.title ?? '' });
  };
  return { describe, channelLabel };
}

// The preview of a saved journey's definition, for its page (a draft before it is submitted).
export function SavedJourneyPreview({ definition }: { definition: Record<string, unknown> }) {
  const { t } = useTranslation();
  const [templates, setTemplates] = useState<Template[]>([]);
  const [preview, setPreview] = useState<JourneyPreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { describe, channelLabel } = useFlowText(templates);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.get('/v1/templates', { query: { status: 'approved', limit: 200 } });
      setTemplates(((r as { templates?: Template[] }).templates ?? []) as Template[]);
      setPreview(await previewJourney(request, definition));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const trigger = definition.trigger as { from?: string } | undefined;
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Button loading={busy} onClick={() => void run()} data-testid="journey-preview">
        {t('jb.preview')}
      </Button>
      {error && <Alert type="error" showIcon message={error} />}
      {preview && <PreviewCard p={preview} describe={describe} channelLabel={channelLabel} stage={trigger?.from ?? ''} />}
    </Space>
  );
}

function PreviewCard({ p, describe, channelLabel, stage }: { p: JourneyPreview; describe: (l: FlowLine) => string; channelLabel: (c: string) => string; stage: string }) {
  const { t } = useTranslation();
  const tr = p.trigger;
  return (
    <Card size="small" title={t('jb.preview')} data-testid="journey-preview-card">
      {tr.type === 'audience' && <Alert type="info" showIcon message={t('jb.baseline', { n: tr.matching_now ?? 0 })} data-testid="preview-baseline" />}
      <Descriptions size="small" column={3} style={{ marginTop: 8 }}>
        {tr.type === 'date' && (
          <Descriptions.Item label={t('jb.dateWindow', { n: tr.window_days })}>
            <span data-testid="preview-admitted">{tr.entering_in_window}</span>
          </Descriptions.Item>
        )}
        {tr.type === 'event' && (
          <>
            <Descriptions.Item label={t('jb.event7')}>
              <span data-testid="preview-last7">{tr.last_7d ?? '—'}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('jb.event30')}>
              <span data-testid="preview-admitted">{tr.last_30d ?? '—'}</span>
            </Descriptions.Item>
          </>
        )}
        {tr.type === 'lifecycle' && (
          <Descriptions.Item label={t('jb.atFrom', { stage })}>
            <span data-testid="preview-admitted">{tr.at_from_stage ?? t('jb.noEstimate')}</span>
          </Descriptions.Item>
        )}
        <Descriptions.Item label={t('campaign.holdoutPercent')}>{p.holdoutPercent}%</Descriptions.Item>
        {p.heldOut !== null && (
          <>
            <Descriptions.Item label={t('jb.heldOut')}>
              <span data-testid="preview-heldout">{p.heldOut}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('jb.treatedN')}>
              <span data-testid="preview-treated">{p.treated}</span>
            </Descriptions.Item>
          </>
        )}
        <Descriptions.Item label={t('jb.sample')}>
          <span data-testid="preview-sample">{p.sample ?? '—'}</span>
        </Descriptions.Item>
      </Descriptions>
      {tr.type === 'event' && <Typography.Text type="secondary">{t('jb.noFilters')}</Typography.Text>}
      {tr.type === 'date' && (tr.days?.length ?? 0) > 0 && (
        <Space wrap style={{ marginTop: 8 }} data-testid="preview-days">
          {tr.days!.map((d) => (
            <Tag key={d.date}>{`${d.date.slice(5)}: ${d.entering}`}</Tag>
          ))}
        </Space>
      )}
      <Card size="small" type="inner" title={t('jb.path')} style={{ marginTop: 8 }}>
        <div data-testid="preview-flow">
          {p.flow.map((l, i) => (
            <div key={i} style={{ paddingLeft: l.depth * 24, lineHeight: '26px' }} data-testid="flow-line">
              {l.arm && <Tag color={l.arm === 'then' ? 'green' : 'orange'}>{t(`jb.${l.arm}`)}</Tag>}
              {l.step && <Tag>{String(l.step.id)}</Tag>}
              {describe(l)}
            </div>
          ))}
        </div>
      </Card>
      {p.sends.length > 0 && (
        <Card size="small" type="inner" title={t('jb.messages')} style={{ marginTop: 8 }}>
          {!p.sample && <Alert type="warning" showIcon message={t('jb.noSample')} />}
          <List
            dataSource={p.sends}
            renderItem={(s) => (
              <List.Item data-testid={`preview-send-${s.stepId}`}>
                <Space direction="vertical" style={{ width: '100%' }}>
                  <Typography.Text strong>{`${s.stepId} · ${channelLabel(s.channel)}`}</Typography.Text>
                  {s.error ? (
                    <Alert type="warning" showIcon message={s.error === 'template_id' ? `${t('workbench.template')}: ${t('form.required')}` : s.error} />
                  ) : (
                    <>
                      <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', marginBottom: 0 }} data-testid="preview-body">
                        {s.body ?? '—'}
                      </Typography.Paragraph>
                      {s.channel === 'sms' && s.segments !== undefined && <Typography.Text type="secondary">{t('campaign.segments', { length: s.length, segments: s.segments })}</Typography.Text>}
                    </>
                  )}
                </Space>
              </List.Item>
            )}
          />
        </Card>
      )}
    </Card>
  );
}
