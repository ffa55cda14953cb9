// The page's friendly states. The server tells them apart by a stable code: `status` of
// GET /v1/h5/activities/{id}, or `code` of a problem (docs/h5.md).

export type StateKind =
  | 'ok'
  | 'no_chances_left'
  | 'activity_ended'
  | 'activity_not_live'
  | 'not_eligible'
  | 'preview'
  | 'not_found'
  | 'expired'
  | 'error';

export interface PageState {
  kind: StateKind;
  title: string;
  message: string;
}

const TEXT: Record<Exclude<StateKind, 'ok'>, [string, string]> = {
  no_chances_left: ['今日机会已用完', '明天再来试试手气吧'],
  activity_ended: ['活动已结束', '感谢您的关注，敬请期待更多精彩活动'],
  activity_not_live: ['活动未开始', '活动暂未开放，请稍后再来'],
  not_eligible: ['暂不符合参与条件', '本活动仅限部分客户参与，感谢您的关注'],
  preview: ['预览模式', '这是运营人员的只读预览，不能抽奖，也不会记录任何结果'],
  not_found: ['活动不存在', '活动可能尚未发布或已下线'],
  expired: ['页面已过期', '请返回 App 重新进入活动'],
  error: ['网络开小差了', '请稍后重试'],
};

export function stateOf(kind: StateKind): PageState {
  if (kind === 'ok') return { kind, title: '', message: '' };
  const [title, message] = TEXT[kind];
  return { kind, title, message };
}

/** The state of the activity status' `status` (unknown values are errors). */
export function stateOfStatus(status: string | undefined): PageState {
  switch (status) {
    case 'ok':
    case 'no_chances_left':
    case 'activity_ended':
    case 'activity_not_live':
    case 'not_eligible':
      return stateOf(status);
    default:
      return stateOf('error');
  }
}

/** The state of a failed API call: its HTTP status and problem code. */
export function stateOfProblem(httpStatus: number, code: string | undefined): PageState {
  if (httpStatus === 401) return stateOf('expired');
  if (httpStatus === 404) return stateOf('not_found');
  if (code === 'preview') return stateOf('preview');
  if (code) {
    const s = stateOfStatus(code);
    if (s.kind !== 'error') return s;
  }
  return stateOf('error');
}
