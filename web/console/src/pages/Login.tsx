import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/problem';
import { useAuth } from '../auth';
import { LanguageSwitch } from '../components/LanguageSwitch';
import { useProblemForm } from '../components/useProblemForm';

export default function Login() {
  const { t } = useTranslation();
  const { login } = useAuth();
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const { banner, showProblem, clear } = useProblemForm(form);

  const submit = async (v: { username: string; password: string }) => {
    setBusy(true);
    clear();
    try {
      await login(v.username.trim(), v.password);
    } catch (e) {
      if (e instanceof ApiError) showProblem(e);
      else throw e;
    } finally {
      setBusy(false);
    }
  };

  return (
    <div style={{ minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center', background: '#f0f2f5' }}>
      <Card style={{ width: 380 }} data-testid="login-card">
        <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center' }}>
          <Typography.Title level={3} style={{ margin: 0 }}>
            Mercator
          </Typography.Title>
          <LanguageSwitch />
        </div>
        <Typography.Paragraph type="secondary">{t('login.subtitle')}</Typography.Paragraph>
        {banner.length > 0 && <Alert type="error" showIcon message={banner.join('; ')} style={{ marginBottom: 16 }} data-testid="login-error" />}
        <Form form={form} layout="vertical" onFinish={submit} requiredMark={false}>
          <Form.Item name="username" label={t('login.username')} rules={[{ required: true, message: t('form.required') }]}>
            <Input autoComplete="username" id="username" />
          </Form.Item>
          <Form.Item name="password" label={t('login.password')} rules={[{ required: true, message: t('form.required') }]}>
            <Input.Password autoComplete="current-password" id="password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy} data-testid="login-submit">
            {t('login.submit')}
          </Button>
        </Form>
      </Card>
    </div>
  );
}
