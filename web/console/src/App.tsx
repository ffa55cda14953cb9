import { App as AntApp, ConfigProvider, Spin } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { useTranslation } from 'react-i18next';
import { Navigate, Route, Routes } from 'react-router-dom';
import { AuthProvider, useAuth } from './auth';
import AppLayout, { firstPage } from './AppLayout';
import Login from './pages/Login';
import Dashboard from './pages/Dashboard';
import AudienceBuilder from './pages/AudienceBuilder';
import Audiences from './pages/Audiences';
import Activities from './pages/Activities';
import ActivityWizard from './pages/ActivityWizard';
import ActivityDetail from './pages/ActivityDetail';
import Approvals from './pages/Approvals';
import Customers from './pages/Customers';
import Tags from './pages/Tags';
import Audit from './pages/Audit';
import Calendar from './pages/Calendar';
import Workbench from './pages/Workbench';
import { CampaignBuilder, CampaignList, CampaignReport } from './pages/Campaigns';
import { JourneyList, JourneyReport } from './pages/Journeys';
import { JourneyBuilder } from './pages/JourneyBuilder';

function Routed() {
  const { session, loading, can } = useAuth();
  if (loading) return <Spin style={{ margin: 80 }} />;
  if (!session) return <Login />;
  return (
    <AppLayout>
      <Routes>
        <Route path="/" element={<Navigate to={firstPage(can)} replace />} />
        <Route path="/dashboard" element={<Dashboard />} />
        <Route path="/audiences/new" element={<AudienceBuilder />} />
        <Route path="/audiences/:id" element={<AudienceBuilder />} />
        <Route path="/audiences" element={<Audiences />} />
        <Route path="/activities" element={<Activities />} />
        <Route path="/activities/new" element={<ActivityWizard />} />
        <Route path="/activities/:id/edit" element={<ActivityWizard />} />
        <Route path="/activities/:id" element={<ActivityDetail />} />
        <Route path="/approvals" element={<Approvals />} />
        <Route path="/customers" element={<Customers />} />
        <Route path="/tags" element={<Tags />} />
        <Route path="/audit" element={<Audit />} />
        <Route path="/calendar" element={<Calendar />} />
        <Route path="/workbench" element={<Workbench />} />
        <Route path="/campaigns" element={<CampaignList />} />
        <Route path="/campaigns/new" element={<CampaignBuilder />} />
        <Route path="/campaigns/:id" element={<CampaignReport />} />
        <Route path="/journeys" element={<JourneyList />} />
        <Route path="/journeys/new" element={<JourneyBuilder />} />
        <Route path="/journeys/:id" element={<JourneyReport />} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Routes>
    </AppLayout>
  );
}

export default function App() {
  const { i18n } = useTranslation();
  const en = i18n.language.startsWith('en');
  dayjs.locale(en ? 'en' : 'zh-cn');
  return (
    <ConfigProvider locale={en ? enUS : zhCN} theme={{ token: { colorPrimary: '#c8102e' } }}>
      <AntApp>
        <AuthProvider>
          <Routed />
        </AuthProvider>
      </AntApp>
    </ConfigProvider>
  );
}
