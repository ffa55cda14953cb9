import { describe, expect, it, vi } from 'vitest';
import { ApiError, H5Api } from './api';
import { fillSlots, GRID_RING, slotOf } from './prizes';
import type { Prize } from './prizes';
import { answersOf } from './quiz';
import { stateOfProblem, stateOfStatus } from './states';
import { ACTIVITY_KEY, takeSession, TOKEN_KEY } from './token';

const prizes: Prize[] = [
  { id: 'p10', name: '10 积分', kind: 'points' },
  { id: 'p88', name: '88 积分', kind: 'points' },
  { id: 'thanks', name: '谢谢参与', kind: 'thanks' },
];

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
  } as Storage;
}

describe('takeSession', () => {
  it('moves the token out of the URL into storage and keeps the rest of the URL', () => {
    const storage = memoryStorage();
    const replaceUrl = vi.fn();
    const s = takeSession({
      location: { href: 'https://bank.example/h5/?token=mh5.abc-_x&activity=12#/rules' },
      storage,
      replaceUrl,
    });
    expect(s).toEqual({ token: 'mh5.abc-_x', activity: 12 });
    expect(storage.getItem(TOKEN_KEY)).toBe('mh5.abc-_x');
    expect(replaceUrl).toHaveBeenCalledWith('/h5/?activity=12#/rules');
  });

  it('uses the stored token after a reload without one, and ignores a malformed activity', () => {
    const storage = memoryStorage();
    storage.setItem(TOKEN_KEY, 'mh5.kept');
    storage.setItem(ACTIVITY_KEY, '7');
    const replaceUrl = vi.fn();
    const s = takeSession({ location: { href: 'https://bank.example/h5/?activity=1e3' }, storage, replaceUrl });
    expect(s).toEqual({ token: 'mh5.kept', activity: 7 });
    expect(replaceUrl).not.toHaveBeenCalled();
  });

  it('drops an empty query entirely', () => {
    const replaceUrl = vi.fn();
    takeSession({ location: { href: 'https://bank.example/h5/?token=t' }, storage: memoryStorage(), replaceUrl });
    expect(replaceUrl).toHaveBeenCalledWith('/h5/');
  });
});

describe('slotOf', () => {
  it('stops on the slot of the drawn prize', () => {
    expect(slotOf(prizes, { prize_id: 'p88', won: true })).toBe(1);
    expect(slotOf(prizes, { prize_id: 'thanks', won: false })).toBe(2);
  });
  it('falls back to a thank-you slot for an unknown losing prize, and to none for an unknown win', () => {
    expect(slotOf(prizes, { prize_id: 'gone', won: false })).toBe(2);
    expect(slotOf(prizes, { prize_id: 'gone', won: true })).toBe(-1);
    expect(slotOf([prizes[0]], { prize_id: 'gone', won: false })).toBe(-1);
  });
  it('finds the first of repeated slots on a 9-grid', () => {
    const slots = fillSlots(prizes, GRID_RING.length);
    expect(slots.map((p) => p.id)).toEqual(['p10', 'p88', 'thanks', 'p10', 'p88', 'thanks', 'p10', 'p88']);
    expect(slotOf(slots, { prize_id: 'thanks', won: false })).toBe(2);
    expect(fillSlots([], 8)).toEqual([]);
  });
  it('has a ring of eight distinct cells around the centre', () => {
    const cells = new Set(GRID_RING.map((c) => `${c.x},${c.y}`));
    expect(cells.size).toBe(8);
    expect(cells.has('1,1')).toBe(false);
  });
});

describe('friendly states', () => {
  it('maps the status view and problem codes to distinct states', () => {
    expect(stateOfStatus('ok').kind).toBe('ok');
    expect(stateOfStatus('no_chances_left').title).toBe('今日机会已用完');
    expect(stateOfStatus('activity_ended').title).toBe('活动已结束');
    expect(stateOfStatus('not_eligible').title).toBe('暂不符合参与条件');
    expect(stateOfStatus('something_new').kind).toBe('error');
    expect(stateOfProblem(429, 'no_chances_left').kind).toBe('no_chances_left');
    expect(stateOfProblem(409, 'activity_ended').kind).toBe('activity_ended');
    expect(stateOfProblem(403, 'not_eligible').kind).toBe('not_eligible');
    expect(stateOfProblem(403, 'preview').kind).toBe('preview'); // a staff preview's refused draw
    expect(stateOfProblem(401, undefined).kind).toBe('expired');
    expect(stateOfProblem(404, undefined).title).toBe('活动不存在');
    expect(stateOfProblem(429, undefined).kind).toBe('error'); // a rate limit is not "no chances"
  });
});

describe('quiz answers', () => {
  it('gives an index for single choice and a list for multiple choice', () => {
    const qs = [
      { index: 0, text: 'a', type: 'single' as const, options: ['x', 'y'] },
      { index: 1, text: 'b', type: 'multiple' as const, options: ['x', 'y', 'z'] },
      { index: 2, text: 'c', type: 'single' as const, options: ['x'] },
    ];
    const checked = new Set(['0:1', '1:0', '1:2']);
    expect(answersOf(qs, (q, o) => checked.has(`${q}:${o}`))).toEqual([1, [0, 2], -1]);
  });
});

describe('H5Api', () => {
  it('sends the bearer token and the idempotency key, and retries a network failure with the same key', async () => {
    const calls: Array<RequestInit> = [];
    let n = 0;
    const fetchFn = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      calls.push(init!);
      if (n++ === 0) throw new TypeError('network down');
      return new Response(JSON.stringify({ draw_id: '1' }), { status: 201 });
    });
    const api = new H5Api('mh5.t', fetchFn as unknown as typeof fetch);
    await expect(api.post('/v1/h5/activities/1/draw', {}, 'key-1')).resolves.toEqual({ draw_id: '1' });
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      const h = c.headers as Record<string, string>;
      expect(h.authorization).toBe('Bearer mh5.t');
      expect(h['idempotency-key']).toBe('key-1');
    }
  });

  it('turns a problem into an ApiError with its code and does not retry it', async () => {
    const fetchFn = vi.fn(
      async () =>
        new Response(JSON.stringify({ status: 429, code: 'no_chances_left', detail: 'chances: no chances left' }), {
          status: 429,
          headers: { 'content-type': 'application/problem+json' },
        }),
    );
    const api = new H5Api('t', fetchFn as unknown as typeof fetch);
    const err = await api.post('/x', {}, 'k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('no_chances_left');
    expect(fetchFn).toHaveBeenCalledTimes(1);
  });
});
