// Where the server's prize lands on the page. The page shows the prizes of the customer's pool
// (GET /v1/h5/activities/{id}: id, name, kind; never odds); a draw answers with prize_id. The
// wheel or grid stops on the slot of that prize.

export interface Prize {
  id: string;
  name: string;
  kind: string;
}

export interface DrawResult {
  draw_id: string;
  prize_id: string;
  prize_name: string;
  kind: string;
  won: boolean;
}

/**
 * The slot index to stop on: the first slot holding the drawn prize; if the drawn prize is not
 * on the page (terms changed since it loaded), a "thanks" slot when nothing was won, else -1 (the
 * page then stops without a slot and shows the prize by its name).
 */
export function slotOf(slots: Prize[], result: Pick<DrawResult, 'prize_id' | 'won'>): number {
  const exact = slots.findIndex((p) => p.id === result.prize_id);
  if (exact >= 0) return exact;
  if (!result.won) return slots.findIndex((p) => p.kind === 'thanks');
  return -1;
}

/** The ring of a 3x3 grid, clockwise from the top-left corner; the centre is the button. */
export const GRID_RING: ReadonlyArray<{ x: number; y: number }> = [
  { x: 0, y: 0 },
  { x: 1, y: 0 },
  { x: 2, y: 0 },
  { x: 2, y: 1 },
  { x: 2, y: 2 },
  { x: 1, y: 2 },
  { x: 0, y: 2 },
  { x: 0, y: 1 },
];

/** Fills `n` slots with the prizes in order, repeating them when there are fewer. */
export function fillSlots(prizes: Prize[], n: number): Prize[] {
  if (prizes.length === 0) return [];
  return Array.from({ length: n }, (_, i) => prizes[i % prizes.length]);
}

/** A short Chinese text for a reward ({kind: points, amount} / {kind: coupon, ...}). */
export function rewardText(reward: unknown): string {
  if (!reward || typeof reward !== 'object') return '';
  const r = reward as { kind?: string; amount?: number };
  switch (r.kind) {
    case 'points':
      return `${r.amount ?? ''} 积分`;
    case 'coupon':
      return '优惠券';
    case 'benefit':
      return '权益';
    default:
      return '奖励';
  }
}

const FULFILMENT: Record<string, string> = {
  processing: '发放中',
  delivered: '已发放',
  awaiting_operator: '待人工处理',
  failed: '发放失败',
};

export function fulfilmentText(state: string | undefined): string {
  return state ? (FULFILMENT[state] ?? state) : '';
}
