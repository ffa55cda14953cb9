// Structured editors for the sign-in and quiz templates' display.settings
// (src/activity/signin_terms.h, quiz_terms.h). Field paths are the settings' own, so the
// server's errors ("display.settings.streak_rewards[1].day: ...") land on their fields.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Card, Checkbox, Col, Form, Input, InputNumber, Radio, Row, Select, Space, Typography } from 'antd';
import { useTranslation } from 'react-i18next';

const S = ['display', 'settings'];

// `name`: the reward's path as Form.Items here see it (relative inside a Form.List);
// `watch`: its absolute path.
function RewardFields({ name, watch, label }: { name: (string | number)[]; watch: (string | number)[]; label?: string }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const kind = Form.useWatch([...watch, 'kind'], form) ?? 'points';
  return (
    <Space wrap align="baseline">
      {label && <span>{label}</span>}
      <Form.Item name={[...name, 'kind']} noStyle>
        <Select
          style={{ width: 110 }}
          options={[
            { value: 'points', label: t('prizeKind.points') },
            { value: 'coupon', label: t('prizeKind.coupon') },
          ]}
        />
      </Form.Item>
      {kind === 'points' ? (
        <>
          <Form.Item name={[...name, 'amount']} rules={[{ required: true, message: t('form.required') }]} style={{ marginBottom: 0 }}>
            <InputNumber min={1} addonAfter={t('settings.points')} style={{ width: 150 }} />
          </Form.Item>
          <Form.Item name={[...name, 'validity_days']} style={{ marginBottom: 0 }} tooltip={t('settings.validityHint')}>
            <InputNumber min={1} placeholder="365" addonAfter={t('settings.days')} style={{ width: 140 }} />
          </Form.Item>
        </>
      ) : (
        <Form.Item name={[...name, 'template_id']} rules={[{ required: true, message: t('form.required') }]} style={{ marginBottom: 0 }}>
          <InputNumber min={1} placeholder={t('prize.template')} style={{ width: 180 }} />
        </Form.Item>
      )}
    </Space>
  );
}

export function SignInSettings() {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const makeUp = Form.useWatch(['ui', 'make_up'], form);
  return (
    <Card size="small" title={t('settings.signInTitle')}>
      <Row gutter={16}>
        <Col span={6}>
          <Form.Item name={[...S, 'cycle_days']} label={t('settings.cycleDays')}>
            <InputNumber min={1} max={366} style={{ width: '100%' }} />
          </Form.Item>
        </Col>
        <Col span={18}>
          <Form.Item name={[...S, 'missed_day']} label={t('settings.missedDay')}>
            <Radio.Group
              options={[
                { value: 'resets_streak', label: t('settings.resets') },
                { value: 'keeps_count', label: t('settings.keeps') },
              ]}
            />
          </Form.Item>
        </Col>
      </Row>
      <Typography.Text strong>{t('settings.streakRewards')}</Typography.Text>
      <Form.List name={[...S, 'streak_rewards']}>
        {(fields, { add, remove }) => (
          <div>
            {fields.map((f) => (
              <Space key={f.key} align="baseline" style={{ display: 'flex' }}>
                <Form.Item name={[f.name, 'day']} rules={[{ required: true, message: t('form.required') }]}>
                  <InputNumber min={1} addonBefore={t('settings.day')} style={{ width: 140 }} />
                </Form.Item>
                <Form.Item noStyle>
                  <RewardFields name={[f.name, 'reward']} watch={[...S, 'streak_rewards', f.name, 'reward']} />
                </Form.Item>
                <Button icon={<DeleteOutlined />} onClick={() => remove(f.name)} />
              </Space>
            ))}
            <Button size="small" icon={<PlusOutlined />} onClick={() => add({ day: fields.length + 1, reward: { kind: 'points', amount: 5 } })}>
              {t('settings.addReward')}
            </Button>
          </div>
        )}
      </Form.List>
      <div style={{ marginTop: 12 }}>
        <Form.Item name={['ui', 'make_up']} valuePropName="checked" noStyle>
          <Checkbox>{t('settings.makeUp')}</Checkbox>
        </Form.Item>
        {makeUp && (
          <Space style={{ marginLeft: 16 }}>
            <Form.Item name={[...S, 'make_up', 'per_cycle']} noStyle>
              <InputNumber min={1} addonBefore={t('settings.perCycle')} style={{ width: 170 }} />
            </Form.Item>
            <Form.Item name={[...S, 'make_up', 'points_cost']} noStyle>
              <InputNumber min={0} addonBefore={t('settings.pointsEach')} style={{ width: 200 }} />
            </Form.Item>
          </Space>
        )}
      </div>
    </Card>
  );
}

function Question({ index, onRemove }: { index: number; onRemove: () => void }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const options = (Form.useWatch([...S, 'questions', index, 'options'], form) as string[] | undefined) ?? [];
  const type = Form.useWatch([...S, 'questions', index, 'type'], form) ?? 'single';
  return (
    <Card size="small" style={{ marginBottom: 8 }} title={`${t('settings.question')} ${index + 1}`} extra={<Button size="small" danger icon={<DeleteOutlined />} onClick={onRemove} />}>
      <Form.Item name={[index, 'text']} rules={[{ required: true, message: t('form.required') }]}>
        <Input placeholder={t('settings.questionText')} />
      </Form.Item>
      <Row gutter={8}>
        <Col span={5}>
          <Form.Item name={[index, 'type']}>
            <Select
              options={[
                { value: 'single', label: t('settings.single') },
                { value: 'multiple', label: t('settings.multiple') },
              ]}
            />
          </Form.Item>
        </Col>
        <Col span={9}>
          <Form.Item name={[index, 'options']} rules={[{ required: true, message: t('form.required') }]}>
            <Select mode="tags" open={false} tokenSeparators={['\n']} placeholder={t('settings.options')} />
          </Form.Item>
        </Col>
        <Col span={6}>
          {/* The server wants a list of option indexes, also for a single choice. */}
          <Form.Item
            name={[index, 'answers']}
            rules={[{ required: true, message: t('form.required') }]}
            getValueProps={(v: number[] | undefined) => ({ value: type === 'multiple' ? (v ?? []) : v?.[0] })}
            normalize={(v: number | number[] | undefined) => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v])}
          >
            <Select mode={type === 'multiple' ? 'multiple' : undefined} placeholder={t('settings.answers')} options={options.map((o, i) => ({ value: i, label: o }))} />
          </Form.Item>
        </Col>
        <Col span={4}>
          <Form.Item name={[index, 'score']}>
            <InputNumber min={1} addonAfter={t('settings.score')} style={{ width: '100%' }} />
          </Form.Item>
        </Col>
      </Row>
    </Card>
  );
}

export function QuizSettings() {
  const { t } = useTranslation();
  return (
    <Card size="small" title={t('settings.quizTitle')}>
      <Form.List name={[...S, 'questions']}>
        {(fields, { add, remove }) => (
          <div>
            {fields.map((f) => (
              <Question key={f.key} index={f.name} onRemove={() => remove(f.name)} />
            ))}
            <Button size="small" icon={<PlusOutlined />} onClick={() => add({ text: '', type: 'single', options: [], answers: [], score: 10 })}>
              {t('settings.addQuestion')}
            </Button>
          </div>
        )}
      </Form.List>
      <Row gutter={16} style={{ marginTop: 12 }}>
        <Col span={6}>
          <Form.Item name={[...S, 'pass_score']} label={t('settings.passScore')}>
            <InputNumber min={1} style={{ width: '100%' }} />
          </Form.Item>
        </Col>
        <Col span={6}>
          <Form.Item name={[...S, 'attempts_per_day']} label={t('settings.attempts')}>
            <InputNumber min={1} style={{ width: '100%' }} />
          </Form.Item>
        </Col>
        <Col span={12}>
          <Form.Item label={t('settings.passReward')}>
            <RewardFields name={[...S, 'reward']} watch={[...S, 'reward']} />
          </Form.Item>
        </Col>
      </Row>
    </Card>
  );
}
