// The approval queue (maker-checker): approvers approve or reject someone else's submission
// with a comment; submitters withdraw their own. Activities open with their terms for review.
import { Alert, App, Button, Drawer, Input, Modal, Segmented, Space, Tag, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { api, request, type Schemas } from '../api/client';
import { ApiError } from '../api/problem';
import { useAuth } from '../auth';
import type { Terms } from '../activity/terms';
import { CursorTable } from '../components/CursorTable';
import { TermsView } from './ActivityDetail';
import { fmtTime } from './Audiences';

type Approval = Schemas['Approval'];

const statusColor: Record<string, string> = { pending: 'gold', approved: 'green', rejected: 'red', withdrawn: 'default' };

export default function Approvals() {
  const { t } = useTranslation();
  const { can, session } = useAuth();
  const { message } = App.useApp();
  const [status, setStatus] = useState<string>('pending');
  const [version, setVersion] = useState(0);
  const [deciding, setDeciding] = useState<{ a: Approval; action: 'approve' | 'reject' } | null>(null);
  const [comment, setComment] = useState('');
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [review, setReview] = useState<{ a: Approval; terms: Terms | null } | null>(null);

  const load = useCallback(
    async (cursor: string | undefined, limit: number) => {
      const r = await api.get('/v1/approvals', { query: { cursor, limit, status: status === 'all' ? undefined : status } });
      return { items: (r.approvals ?? []) as Approval[], next: r.next_cursor ?? null };
    },
    [status],
  );

  const decide = async () => {
    if (!deciding) return;
    setFieldError(null);
    try {
      await request('POST', `/v1/approvals/${deciding.a.id}/${deciding.action}`, deciding.action === 'reject' || comment ? { comment } : {});
      message.success(t(`approval.done.${deciding.action}`));
      setDeciding(null);
      setComment('');
      setVersion((v) => v + 1);
    } catch (e) {
      if (e instanceof ApiError) {
        const c = e.problem.errors?.find((x) => x.field === 'comment');
        setFieldError(c ? c.reason : e.message);
      } else setFieldError(String(e));
    }
  };

  const withdraw = async (a: Approval) => {
    try {
      await request('POST', `/v1/approvals/${a.id}/withdraw`, {});
      setVersion((v) => v + 1);
    } catch (e) {
      message.error(String((e as Error).message));
    }
  };

  const open = async (a: Approval) => {
    let terms: Terms | null = null;
    if (a.object_type === 'activity') {
      try {
        const v = await api.get('/v1/activities/{id}/versions', { params: { id: a.object_id! } });
        const match = (v.versions ?? []).find((x) => x.approval_id === a.id);
        terms = (match?.terms ?? null) as Terms | null;
      } catch {
        terms = null;
      }
    }
    setReview({ a, terms });
  };

  const me = `user:${session?.username}`;
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Space style={{ justifyContent: 'space-between', width: '100%' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('menu.approvals')}
        </Typography.Title>
        <Segmented value={status} onChange={(v) => setStatus(String(v))} options={['pending', 'approved', 'rejected', 'withdrawn', 'all'].map((s) => ({ value: s, label: t(`approval.status.${s}`) }))} />
      </Space>
      <CursorTable<Approval>
        rowKey="id"
        load={load}
        deps={[status, version]}
        columns={[
          { title: 'ID', dataIndex: 'id', width: 60 },
          { title: t('approval.object'), render: (_, a) =>
              a.object_type === 'activity' || a.object_type === 'campaign' || a.object_type === 'journey' ? (
                <Link to={`/${a.object_type === 'activity' ? 'activities' : `${a.object_type}s`}/${a.object_id}`}>
                  {t(`approval.type.${a.object_type}`)} #{a.object_id}
                </Link>
              ) : (
                `${t(`approval.type.${a.object_type}`, { defaultValue: a.object_type })} ${a.object_id}`
              ),
          },
          { title: t('approval.summary'), dataIndex: 'summary' },
          { title: t('approval.submittedBy'), dataIndex: 'submitted_by' },
          { title: t('approval.submittedAt'), dataIndex: 'submitted_at', render: (v) => fmtTime(v) },
          { title: t('activity.state'), dataIndex: 'status', render: (s) => <Tag color={statusColor[s]}>{t(`approval.status.${s}`)}</Tag> },
          { title: t('approval.comment'), dataIndex: 'comment' },
          {
            title: '',
            render: (_, a) => (
              <Space>
                <Button size="small" onClick={() => void open(a)} data-testid={`review-${a.id}`}>
                  {t('approval.review')}
                </Button>
                {a.status === 'pending' && can('approvals:decide') && a.submitted_by !== me && (
                  <>
                    <Button size="small" type="primary" onClick={() => setDeciding({ a, action: 'approve' })} data-testid={`approve-${a.id}`}>
                      {t('approval.approve')}
                    </Button>
                    <Button size="small" danger onClick={() => setDeciding({ a, action: 'reject' })} data-testid={`reject-${a.id}`}>
                      {t('approval.reject')}
                    </Button>
                  </>
                )}
                {a.status === 'pending' && a.submitted_by === me && can('approvals:submit') && (
                  <Button size="small" onClick={() => void withdraw(a)}>
                    {t('approval.withdraw')}
                  </Button>
                )}
              </Space>
            ),
          },
        ]}
      />
      <Modal
        open={!!deciding}
        title={deciding ? t(`approval.${deciding.action}Title`, { id: deciding.a.id }) : ''}
        onCancel={() => {
          setDeciding(null);
          setFieldError(null);
        }}
        onOk={() => void decide()}
        okText={deciding ? t(`approval.${deciding.action}`) : ''}
        okButtonProps={{ danger: deciding?.action === 'reject', id: 'decide-ok' }}
      >
        <Typography.Paragraph>{deciding?.a.summary}</Typography.Paragraph>
        <Input.TextArea
          value={comment}
          onChange={(e) => setComment(e.target.value)}
          placeholder={deciding?.action === 'reject' ? t('approval.reasonRequired') : t('approval.commentOptional')}
          status={fieldError ? 'error' : undefined}
          data-testid="decide-comment"
        />
        {fieldError && <Typography.Text type="danger">{fieldError}</Typography.Text>}
      </Modal>
      <Drawer width={900} open={!!review} onClose={() => setReview(null)} title={review ? `${t('approval.review')} #${review.a.id}` : ''}>
        {review && (
          <Space direction="vertical" style={{ width: '100%' }}>
            <Alert type="info" message={review.a.summary} description={`SHA-256 ${review.a.digest}`} />
            {review.terms ? <TermsView terms={review.terms} /> : null}
          </Space>
        )}
      </Drawer>
    </Space>
  );
}
