// zh-CN by default, English on request (the switch in the header; remembered per browser).
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';

const zh = {
  login: { subtitle: '银行营销中台 · 运营控制台', username: '用户名', password: '密码', submit: '登录' },
  logout: '退出',
  form: { required: '必填' },
  menu: { journeys: '客户旅程', calendar: '营销日历', dashboard: '数据看板', audiences: '人群圈选', activities: '营销活动', approvals: '审批中心', customers: '客户', tags: '标签目录', audit: '审计日志' },
  role: { admin: '管理员', operator: '运营', approver: '审批', manager: '客户经理', analyst: '分析', auditor: '审计' },
  page: { n: '第 {{n}} 页', prev: '上一页', next: '下一页', refresh: '刷新', more: '更多' },
  common: { createdBy: '创建人', createdAt: '创建时间', updatedAt: '更新时间', all: '全部' },
  rule: {
    and: '且 AND', or: '或 OR', not: '非', notHint: '取反：不满足此条件', allOf: '满足全部条件', anyOf: '满足任一条件',
    addCond: '条件', addGroup: '条件组', remove: '删除', field: '选择标签', values: '取值', true: '是', false: '否',
    emptyRoot: '未设条件：全部客户', emptyGroup: '空条件组（忽略）',
  },
  op: { '=': '等于', '!=': '不等于', '<': '小于', '<=': '小于等于', '>': '大于', '>=': '大于等于', between: '介于', in: '属于', not_in: '不属于', has: '包含任一', has_all: '包含全部', exists: '有值' },
  tagCategory: { basic: '基础属性', product: '产品持有', persona: '偏好画像', behaviour: '行为', lifecycle: '生命周期', model: '模型评分' },
  audience: {
    new: '新建人群', edit: '编辑人群', dsl: '规则 DSL（可直接编辑）', incomplete: '有未填写完整的条件', canonical: '规范形式',
    liveCount: '实时人数', save: '保存为人群', name: '人群名称', description: '说明', saved: '人群已保存', rule: '规则', count: '当前人数',
    byProvince: '省份分布', byLevel: '客户等级', byAge: '年龄段',
  },
  level: { normal: '普通', gold: '金卡', platinum: '白金', private: '私行' },
  lifecycle: { potential: '潜客', new: '新客', active: '活跃', dormant: '沉睡', churned: '流失' },
  template: { wheel: '大转盘', grid9: '九宫格', golden_egg: '砸金蛋', blind_box: '盲盒', scratch_card: '刮刮卡', sign_in: '签到', quiz: '答题' },
  theme: { default: '默认', festive: '喜庆', spring_festival: '春节', double11: '双11' },
  channel: { app: '手机银行', h5: 'H5', wechat_oa: '微信公众号', wecom: '企业微信', branch: '网点' },
  prizeKind: { points: '积分', coupon: '优惠券', benefit: '权益', physical: '实物', cash: '现金红包', thanks: '谢谢参与' },
  prize: {
    name: '奖品名称', kind: '类型', weight: '权重', odds: '概率', stock: '总库存', stockHint: '-1 表示不限', daily: '每日库存', cap: '每人上限',
    cost: '成本(元)', ref: '奖励内容', template: '券/权益模板', add: '添加奖品',
  },
  wizard: {
    title: '新建活动', editTitle: '编辑活动 #{{id}}', stepBasics: '模板与基本信息', stepEligibility: '参与资格与时间', stepChances: '抽奖机会与预算', stepPools: '奖池与成本',
    template: '活动模板', name: '活动名称', displayTitle: '页面标题', description: '活动说明', theme: '主题', spinMs: '转盘时长(毫秒)', eggs: '金蛋个数', boxes: '盲盒个数', coverText: '刮层文字',
    who: '参与人群', everyone: '全部客户', audience: '已存人群', rule: '规则 DSL', start: '开始时间', end: '结束时间', channels: '渠道', anyChannel: '不限',
    whiteList: '白名单（客户号）', blackList: '黑名单（客户号）', listHint: '输入客户号，逗号或回车分隔',
    freePerDay: '每日免费次数', pointsCost: '积分抽奖消耗', maxPerDay: '每日上限', maxTotal: '总上限', zeroNoLimit: '0 表示不限',
    budget: '预算', budgetHint: '奖品成本累计达到预算后只发兜底奖品；0 表示不设预算', noBudget: '未设预算',
    poolsHint: '奖池按顺序匹配客户分群，客户进入第一个匹配的奖池。', prizeRange: '此模板每个奖池 {{lo}}–{{hi}} 个奖品。',
    pool: '奖池', poolName: '奖池名称', group: '客户分群', groupDefault: '默认（其余客户）', groupAudience: '人群', groupRule: '规则',
    fallback: '兜底奖品 ID', fallbackHint: '抽中的奖品无库存或超预算时发放', guarantee: '保底次数', guaranteeHint: '连续未中奖 N 次后必中；0 表示无',
    addPool: '添加奖池（置顶）', noPools: '签到和答题的奖励在模板设置中配置，没有奖池。',
    settingsJson: '{{template}}设置（JSON）', badJson: '不是合法的 JSON',
    signInHelp: 'cycle_days 周期天数；missed_day: resets_streak 断签重置 / keeps_count 累计；streak_rewards: [{day, reward: {kind: points, amount} 或 {kind: coupon, template_id}}]；make_up: {per_cycle, points_cost} 补签',
    quizHelp: 'questions: [{text, type: single|multiple, options, answers, score}]；pass_score 及格分；reward 首次及格奖励；attempts_per_day 每日次数',
    prev: '上一步', next: '下一步', saveDraft: '保存草稿', saveSubmit: '保存并提交审批', saved: '已保存草稿', submitted: '已提交审批',
  },
  cost: {
    title: '预期成本测算', who: '分群客户（先匹配的奖池优先）', nobody: '无（前面的默认奖池已覆盖所有客户）', participation: '参与率', drawsEach: '人均抽奖次数', run: '测算', members: '分群人数', draws: '预计抽奖次数', perDraw: '单次成本',
    winRate: '中奖率', exhausted: '库存耗尽（第 N 次抽奖）', expected: '预期成本', total: '合计预期成本', overBudget: '超出预算 ¥{{budget}}：超出部分将只发兜底奖品', withinBudget: '预算 ¥{{budget}} 以内',
  },
  state: { draft: '草稿', submitted: '审批中', scheduled: '待开始', live: '进行中', paused: '已暂停', ended: '已结束' },
  versionStatus: { draft: '草稿', submitted: '已提交', approved: '已通过', rejected: '已驳回', superseded: '已替代' },
  activity: {
    state: '状态', version: '版本', stats: '实时数据', terms: '活动规则', versions: '版本与审批', noStats: '暂无数据（活动发布后统计）',
    participants: '参与人数', draws: '抽奖次数', wins: '中奖次数', budgetSpent: '已用预算', awardedByPrize: '各奖品发放与剩余库存', awarded: '已发放', stockLeft: '剩余库存', dailyLeft: '今日剩余', byChannel: '渠道分布',
    edit: '编辑', submit: '提交审批', newVersion: '修改（新版本需审批）', pause: '暂停', resume: '恢复', end: '结束', endConfirm: '结束后不可恢复，确定？', clone: '复制',
    done: { submit: '已提交审批', pause: '已暂停', resume: '已恢复', end: '已结束', clone: '已复制' },
  },
  approval: {
    id: '审批单', object: '对象', summary: '摘要', submittedBy: '提交人', submittedAt: '提交时间', comment: '意见', decidedBy: '审批人', decidedAt: '审批时间',
    review: '查看', approve: '通过', reject: '驳回', withdraw: '撤回', approveTitle: '通过审批 #{{id}}', rejectTitle: '驳回审批 #{{id}}',
    reasonRequired: '驳回原因（必填）', commentOptional: '审批意见（可选）', done: { approve: '已通过', reject: '已驳回' },
    status: { pending: '待审批', approved: '已通过', rejected: '已驳回', withdrawn: '已撤回', all: '全部' },
    type: { activity: '活动', audience_export: '人群导出', template: '消息模板', journey: '旅程' },
  },
  customer: {
    externalId: '客户号', phone: '手机号', idNumber: '证件号', name: '姓名', search: '查询', sample: '抽样', sampleRule: '按规则抽样浏览，如 level = "gold"',
    none: '未找到客户', profile: '客户 360', unmask: '查看明文（将记入审计）', points: '积分余额', tags: '标签', timeline: '行为轨迹', pii: { masked: '已脱敏', unmasked: '明文' },
  },
  event: { login: '登录', page_view: '浏览', transfer: '转账', purchase: '购买', deposit_open: '定期存入', app_register: '注册手机银行', card_bind: '绑卡', feedback: '反馈', coupon_redeem: '用券', lifecycle_changed: '生命周期变化' },
  tag: { key: '标签键', nameZh: '中文名', nameEn: '英文名', category: '分类', type: '类型', source: '来源', values: '取值', description: '说明' },
  audit: { objectType: '对象类型', objectId: '对象 ID', filter: '筛选', verify: '校验哈希链', chainOk: '哈希链完整（已校验 {{n}} 条）', chainBroken: '哈希链在第 {{seq}} 条断开：{{reason}}', time: '时间', actor: '操作人', action: '操作', hash: '哈希' },
  journeyState: { draft: '草稿', live: '运行中', paused: '已暂停', ended: '已结束' },
  journey: {
    trigger: '触发', step: '步骤', entered: '进入', active: '进行中', completed: '完成', converted: '转化', exited: '退出', uplift: '提升（对照组）',
    funnel: '旅程漏斗', conversion: '转化率：实验组 vs 对照组', treated: '实验组', holdout: '对照组', actions: '各步骤动作结果', definition: '旅程定义',
    triggers: { event: '事件', audience: '进入人群', lifecycle: '生命周期变化', date: '日期' },
  },
  calendar: { holiday: '节假日', shopping: '购物节', festival: '节日', activity: '活动', campaign: '营销触达' },
  dash: { customers: '客户总数', dau: '今日活跃', wau: '近7天活跃', mau: '近30天活跃(MAU)', events: '事件总数', recency: '最近活跃日期分布（近30天）', lastActive: '最后活跃', lifecycle: '生命周期', liveActivities: '进行中的活动', budgetBurn: '预算消耗 %', noLive: '没有进行中的活动' },
};

type Dict = { [k: string]: string | Dict };

const en: Dict = {
  login: { subtitle: 'Marketing platform for banks · operator console', username: 'User name', password: 'Password', submit: 'Sign in' },
  logout: 'Sign out',
  form: { required: 'Required' },
  menu: { journeys: 'Journeys', calendar: 'Calendar', dashboard: 'Dashboard', audiences: 'Audiences', activities: 'Activities', approvals: 'Approvals', customers: 'Customers', tags: 'Tag catalog', audit: 'Audit log' },
  role: { admin: 'Admin', operator: 'Operator', approver: 'Approver', manager: 'Manager', analyst: 'Analyst', auditor: 'Auditor' },
  page: { n: 'Page {{n}}', prev: 'Previous', next: 'Next', refresh: 'Refresh', more: 'More' },
  common: { createdBy: 'Created by', createdAt: 'Created', updatedAt: 'Updated', all: 'All' },
  rule: {
    and: 'AND', or: 'OR', not: 'NOT', notHint: 'Negate: customers not matching', allOf: 'all of', anyOf: 'any of',
    addCond: 'Condition', addGroup: 'Group', remove: 'Remove', field: 'Tag', values: 'Values', true: 'yes', false: 'no',
    emptyRoot: 'No condition: every customer', emptyGroup: 'Empty group (ignored)',
  },
  op: { '=': 'equals', '!=': 'not equal', '<': 'less than', '<=': 'at most', '>': 'more than', '>=': 'at least', between: 'between', in: 'in', not_in: 'not in', has: 'has any', has_all: 'has all', exists: 'has a value' },
  tagCategory: { basic: 'Basic', product: 'Products', persona: 'Persona', behaviour: 'Behaviour', lifecycle: 'Lifecycle', model: 'Models' },
  audience: {
    new: 'New audience', edit: 'Edit audience', dsl: 'Rule DSL (editable)', incomplete: 'Some conditions are incomplete', canonical: 'Canonical form',
    liveCount: 'Live count', save: 'Save as audience', name: 'Name', description: 'Description', saved: 'Audience saved', rule: 'Rule', count: 'Members',
    byProvince: 'By province', byLevel: 'By level', byAge: 'By age band',
  },
  level: { normal: 'Normal', gold: 'Gold', platinum: 'Platinum', private: 'Private' },
  lifecycle: { potential: 'Potential', new: 'New', active: 'Active', dormant: 'Dormant', churned: 'Churned' },
  template: { wheel: 'Wheel', grid9: '9-grid', golden_egg: 'Golden egg', blind_box: 'Blind box', scratch_card: 'Scratch card', sign_in: 'Sign-in', quiz: 'Quiz' },
  theme: { default: 'Default', festive: 'Festive', spring_festival: 'Spring Festival', double11: 'Double 11' },
  channel: { app: 'Mobile app', h5: 'H5', wechat_oa: 'WeChat OA', wecom: 'WeCom', branch: 'Branch' },
  prizeKind: { points: 'Points', coupon: 'Coupon', benefit: 'Benefit', physical: 'Physical', cash: 'Cash', thanks: 'Thank you' },
  prize: {
    name: 'Name', kind: 'Kind', weight: 'Weight', odds: 'Odds', stock: 'Stock', stockHint: '-1: unlimited', daily: 'Daily stock', cap: 'Per customer',
    cost: 'Cost (¥)', ref: 'Reward', template: 'Coupon/benefit template', add: 'Add prize',
  },
  wizard: {
    title: 'New activity', editTitle: 'Edit activity #{{id}}', stepBasics: 'Template', stepEligibility: 'Eligibility & schedule', stepChances: 'Chances & budget', stepPools: 'Prize pools & cost',
    template: 'Template', name: 'Name', displayTitle: 'Page title', description: 'Description', theme: 'Theme', spinMs: 'Spin (ms)', eggs: 'Eggs', boxes: 'Boxes', coverText: 'Cover text',
    who: 'Who may join', everyone: 'Every customer', audience: 'Saved audience', rule: 'Rule DSL', start: 'Start', end: 'End', channels: 'Channels', anyChannel: 'Any',
    whiteList: 'White list (customer ids)', blackList: 'Black list (customer ids)', listHint: 'Customer ids, separated by commas or Enter',
    freePerDay: 'Free draws a day', pointsCost: 'Points per extra draw', maxPerDay: 'Max a day', maxTotal: 'Max in total', zeroNoLimit: '0: no limit',
    budget: 'Budget', budgetHint: 'Once prize costs reach it only fallback prizes are given; 0: no budget', noBudget: 'No budget',
    poolsHint: 'Pools are matched in order; a customer draws from the first pool whose group they belong to.', prizeRange: 'This template shows {{lo}}–{{hi}} prizes a pool.',
    pool: 'Pool', poolName: 'Pool name', group: 'Customer group', groupDefault: 'Default (everyone else)', groupAudience: 'Audience', groupRule: 'Rule',
    fallback: 'Fallback prize id', fallbackHint: 'Given when the drawn prize is out of stock or over budget', guarantee: 'Guarantee after', guaranteeHint: 'A win after N losses in a row; 0: none',
    addPool: 'Add pool (at the top)', noPools: 'Sign-in and quiz rewards are set in the template settings; they have no pools.',
    settingsJson: '{{template}} settings (JSON)', badJson: 'Not valid JSON',
    signInHelp: 'cycle_days; missed_day: resets_streak | keeps_count; streak_rewards: [{day, reward: {kind: points, amount} | {kind: coupon, template_id}}]; make_up: {per_cycle, points_cost}',
    quizHelp: 'questions: [{text, type: single|multiple, options, answers, score}]; pass_score; reward for the first pass; attempts_per_day',
    prev: 'Back', next: 'Next', saveDraft: 'Save draft', saveSubmit: 'Save and submit for approval', saved: 'Draft saved', submitted: 'Submitted for approval',
  },
  cost: {
    title: 'Expected cost', who: 'Customers of the group (earlier pools first)', nobody: 'nobody (an earlier default pool takes everyone)', participation: 'Participation', drawsEach: 'Draws per participant', run: 'Calculate', members: 'Group members', draws: 'Expected draws', perDraw: 'Cost a draw',
    winRate: 'Win rate', exhausted: 'Stock runs out (at draw N)', expected: 'Expected cost', total: 'Total expected cost', overBudget: 'Over the ¥{{budget}} budget: beyond it only fallback prizes are given', withinBudget: 'within the ¥{{budget}} budget',
  },
  state: { draft: 'Draft', submitted: 'Submitted', scheduled: 'Scheduled', live: 'Live', paused: 'Paused', ended: 'Ended' },
  versionStatus: { draft: 'draft', submitted: 'submitted', approved: 'approved', rejected: 'rejected', superseded: 'superseded' },
  activity: {
    state: 'State', version: 'Version', stats: 'Live stats', terms: 'Terms', versions: 'Versions & approvals', noStats: 'No statistics yet (after publication)',
    participants: 'Participants', draws: 'Draws', wins: 'Wins', budgetSpent: 'Budget spent', awardedByPrize: 'Awarded and stock left per prize', awarded: 'Awarded', stockLeft: 'Stock left', dailyLeft: 'Left today', byChannel: 'By channel',
    edit: 'Edit', submit: 'Submit for approval', newVersion: 'Change (new version, needs approval)', pause: 'Pause', resume: 'Resume', end: 'End', endConfirm: 'An ended activity cannot restart. End it?', clone: 'Clone',
    done: { submit: 'Submitted for approval', pause: 'Paused', resume: 'Resumed', end: 'Ended', clone: 'Cloned' },
  },
  approval: {
    id: 'Approval', object: 'Object', summary: 'Summary', submittedBy: 'Submitted by', submittedAt: 'Submitted', comment: 'Comment', decidedBy: 'Decided by', decidedAt: 'Decided',
    review: 'Review', approve: 'Approve', reject: 'Reject', withdraw: 'Withdraw', approveTitle: 'Approve #{{id}}', rejectTitle: 'Reject #{{id}}',
    reasonRequired: 'Reason (required)', commentOptional: 'Comment (optional)', done: { approve: 'Approved', reject: 'Rejected' },
    status: { pending: 'Pending', approved: 'Approved', rejected: 'Rejected', withdrawn: 'Withdrawn', all: 'All' },
    type: { activity: 'Activity', audience_export: 'Audience export', template: 'Message template', journey: 'Journey' },
  },
  customer: {
    externalId: 'Customer id', phone: 'Mobile', idNumber: 'ID number', name: 'Name', search: 'Search', sample: 'Sample', sampleRule: 'Browse a sample of a rule, e.g. level = "gold"',
    none: 'No customer found', profile: 'Customer 360', unmask: 'Show in clear (audited)', points: 'Points', tags: 'Tags', timeline: 'Timeline', pii: { masked: 'masked', unmasked: 'in clear' },
  },
  event: { login: 'Login', page_view: 'Page view', transfer: 'Transfer', purchase: 'Purchase', deposit_open: 'Time deposit', app_register: 'App sign-up', card_bind: 'Card bound', feedback: 'Feedback', coupon_redeem: 'Coupon used', lifecycle_changed: 'Lifecycle change' },
  tag: { key: 'Key', nameZh: 'Chinese name', nameEn: 'English name', category: 'Category', type: 'Type', source: 'Source', values: 'Values', description: 'Description' },
  audit: { objectType: 'Object type', objectId: 'Object id', filter: 'Filter', verify: 'Verify hash chain', chainOk: 'Hash chain intact ({{n}} entries checked)', chainBroken: 'Hash chain broken at #{{seq}}: {{reason}}', time: 'Time', actor: 'Actor', action: 'Action', hash: 'Hash' },
  journeyState: { draft: 'Draft', live: 'Live', paused: 'Paused', ended: 'Ended' },
  journey: {
    trigger: 'Trigger', step: 'Step', entered: 'Entered', active: 'Active', completed: 'Completed', converted: 'Converted', exited: 'Exited', uplift: 'Uplift vs holdout',
    funnel: 'Funnel', conversion: 'Conversion: treated vs holdout', treated: 'Treated', holdout: 'Holdout', actions: 'Action outcomes per step', definition: 'Definition',
    triggers: { event: 'Event', audience: 'Joins an audience', lifecycle: 'Lifecycle change', date: 'Date' },
  },
  calendar: { holiday: 'Holiday', shopping: 'Shopping day', festival: 'Festival', activity: 'Activity', campaign: 'Campaign' },
  dash: { customers: 'Customers', dau: 'Active today', wau: 'Active in 7 days', mau: 'Active in 30 days (MAU)', events: 'Events', recency: 'Last active day (past 30 days)', lastActive: 'Last active', lifecycle: 'Lifecycle', liveActivities: 'Running activities', budgetBurn: 'Budget burn %', noLive: 'No running activity' },
};

export const resources = { 'zh-CN': { translation: zh }, en: { translation: en } };

void i18n.use(initReactI18next).init({
  resources,
  lng: (typeof localStorage !== 'undefined' && localStorage.getItem('mct.lang')) || 'zh-CN',
  fallbackLng: 'zh-CN',
  interpolation: { escapeValue: false },
});

export default i18n;
