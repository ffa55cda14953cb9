import {
  AuditOutlined,
  CalendarOutlined,
  CheckSquareOutlined,
  DashboardOutlined,
  GiftOutlined,
  NodeIndexOutlined,
  SendOutlined,
  LogoutOutlined,
  SolutionOutlined,
  TagsOutlined,
  TeamOutlined,
  UserOutlined,
  UsergroupAddOutlined,
} from '@ant-design/icons';
import { Button, Layout, Menu, Space, Tag, Typography } from 'antd';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useLocation, useNavigate } from 'react-router-dom';
import { useAuth } from './auth';
import { LanguageSwitch } from './components/LanguageSwitch';

// Menu entries and the permission each needs (src/auth/roles.cc).
const entries = [
  { key: '/workbench', icon: <SolutionOutlined />, label: 'menu.workbench', perm: ['workbench:use'] },
  { key: '/dashboard', icon: <DashboardOutlined />, label: 'menu.dashboard', perm: ['activities:read', 'segments:read'] },
  { key: '/audiences', icon: <UsergroupAddOutlined />, label: 'menu.audiences', perm: ['segments:read'] },
  { key: '/activities', icon: <GiftOutlined />, label: 'menu.activities', perm: ['activities:read'] },
  { key: '/campaigns', icon: <SendOutlined />, label: 'menu.campaigns', perm: ['campaigns:read'] },
  { key: '/journeys', icon: <NodeIndexOutlined />, label: 'menu.journeys', perm: ['journeys:read'] },
  { key: '/calendar', icon: <CalendarOutlined />, label: 'menu.calendar', perm: ['activities:read', 'campaigns:read'] },
  { key: '/approvals', icon: <CheckSquareOutlined />, label: 'menu.approvals', perm: ['approvals:read'] },
  { key: '/customers', icon: <TeamOutlined />, label: 'menu.customers', perm: ['customers:read'] },
  { key: '/tags', icon: <TagsOutlined />, label: 'menu.tags', perm: ['tags:read'] },
  { key: '/audit', icon: <AuditOutlined />, label: 'menu.audit', perm: ['audit:read'] },
];

export function firstPage(can: (p: string) => boolean): string {
  return entries.find((e) => e.perm.some(can))?.key ?? '/dashboard';
}

export default function AppLayout({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const { session, logout, can } = useAuth();
  const nav = useNavigate();
  const loc = useLocation();
  const items = entries
    .filter((e) => e.perm.some(can))
    .map((e) => ({ key: e.key, icon: e.icon, label: <span data-testid={`menu-${e.key.slice(1)}`}>{t(e.label)}</span> }));
  const selected = entries.find((e) => loc.pathname.startsWith(e.key))?.key ?? '';
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Sider width={208} theme="dark">
        <div style={{ color: '#fff', fontSize: 18, fontWeight: 600, padding: '18px 24px' }}>Mercator</div>
        <Menu theme="dark" mode="inline" selectedKeys={[selected]} items={items} onClick={(e) => nav(e.key)} />
      </Layout.Sider>
      <Layout>
        <Layout.Header style={{ background: '#fff', display: 'flex', justifyContent: 'flex-end', alignItems: 'center', paddingInline: 24 }}>
          <Space size="middle">
            <LanguageSwitch />
            <Space size={4}>
              <UserOutlined />
              <Typography.Text data-testid="current-user">{session?.display_name || session?.username}</Typography.Text>
              {session?.roles?.map((r) => (
                <Tag key={r}>{t(`role.${r}`)}</Tag>
              ))}
            </Space>
            <Button icon={<LogoutOutlined />} onClick={() => void logout()} data-testid="logout">
              {t('logout')}
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content style={{ margin: 24 }}>{children}</Layout.Content>
      </Layout>
    </Layout>
  );
}
