import { Segmented } from 'antd';
import { useTranslation } from 'react-i18next';

export function LanguageSwitch() {
  const { i18n } = useTranslation();
  return (
    <Segmented
      size="small"
      value={i18n.language.startsWith('en') ? 'en' : 'zh-CN'}
      options={[
        { label: '中文', value: 'zh-CN' },
        { label: 'EN', value: 'en' },
      ]}
      onChange={(v) => {
        void i18n.changeLanguage(String(v));
        localStorage.setItem('mct.lang', String(v));
      }}
      data-testid="lang-switch"
    />
  );
}
