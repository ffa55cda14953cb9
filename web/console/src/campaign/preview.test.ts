// previewPlan against a requester that answers like the server (recorded calls are the oracle
// of what the preview asks; the numbers are derived here by hand).
import { describe, expect, it } from 'vitest';
import { parseVariables, previewPlan, type Requester } from './preview';

function server(calls: { method: string; path: string; body: unknown }[]): Requester {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    calls.push({ method, path, body });
    if (path === '/v1/segments/count') return { count: 251 } as T;
    if (path === '/v1/segments/sample') return { external_ids: ['C123'] } as T;
    if (path === '/v1/templates/6/preview') {
      const vars = (body as { variables: Record<string, string> }).variables;
      if (!vars.product) throw new Error('variables: product is missing');
      const text = `【示例银行】张*您好，${vars.product}新品上线 ${vars.link ?? ''}回T退订`;
      return { body: text, length: [...text].length, segments: 1 } as T;
    }
    throw new Error(`unexpected ${path}`);
  };
}

describe('previewPlan', () => {
  it('counts the audience, leaves the holdout out and renders each step for one sample member', async () => {
    const calls: { method: string; path: string; body: unknown }[] = [];
    const p = await previewPlan(
      server(calls),
      'aum >= 50000',
      20,
      [{ channel: 'app_push' }, { channel: 'sms', template_id: 6 }],
      { product: '稳盈90天' },
      'https://m.bank.example/wm90',
    );
    expect(p.members).toBe(251);
    expect(p.treated).toBe(201); // 251 x 0.8 = 200.8
    expect(p.sample).toBe('C123');
    expect(p.steps[0]).toEqual({ channel: 'app_push', templateId: undefined, error: 'template_id' });
    expect(p.steps[1].body).toBe('【示例银行】张*您好，稳盈90天新品上线 https://m.bank.example/wm90回T退订');
    expect(p.steps[1].segments).toBe(1);
    expect(calls.map((c) => c.path)).toEqual(['/v1/segments/count', '/v1/segments/sample', '/v1/templates/6/preview']);
    expect(calls[2].body).toEqual({ customer: 'C123', variables: { product: '稳盈90天', link: 'https://m.bank.example/wm90' } });
  });
  it("shows a step's error on that step only", async () => {
    const p = await previewPlan(server([]), 'aum >= 0', 0, [{ channel: 'sms', template_id: 6 }], {});
    expect(p.treated).toBe(251);
    expect(p.steps[0].error).toBe('variables: product is missing');
    expect(p.steps[0].body).toBeUndefined();
  });
});

describe('parseVariables', () => {
  it('reads name=value lines and names the bad one', () => {
    expect(parseVariables('product = 稳盈90天\n\nrate=2.8%')).toEqual({ product: '稳盈90天', rate: '2.8%' });
    expect(() => parseVariables('product=x\nnonsense')).toThrow('line 2');
    expect(() => parseVariables('=x')).toThrow('line 1');
  });
});
