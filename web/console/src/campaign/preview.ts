// The campaign builder's preview: how many customers the audience holds now, how many of them
// the holdout leaves to be contacted, and each plan step's message as one sample member would
// receive it ({{name}} masked). Nothing is sent or recorded: it asks /v1/segments/count,
// /v1/segments/sample and /v1/templates/{id}/preview.

export type Requester = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export interface StepPreview {
  channel: string;
  templateId?: number;
  body?: string;
  length?: number;
  segments?: number;
  error?: string; // this step's problem (no template chosen, a variable missing, ...)
}

export interface PlanPreview {
  members: number;
  treated: number; // expected members outside the holdout
  sample: string | null; // the sample member's external id
  steps: StepPreview[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function previewPlan(
  req: Requester,
  rule: string,
  holdoutPercent: number,
  steps: { channel: string; template_id?: number }[],
  variables: Record<string, string>,
  link?: string,
): Promise<PlanPreview> {
  const { count } = await req<{ count: number }>('POST', '/v1/segments/count', { rule });
  const { external_ids: ids } = await req<{ external_ids: string[] }>('POST', '/v1/segments/sample', { rule, limit: 1 });
  const sample = ids?.[0] ?? null;
  const holdout = Math.min(100, Math.max(0, holdoutPercent)) / 100;
  // The tracked link is made per message at send; the preview shows where it leads.
  const vars = link ? { ...variables, link } : { ...variables };
  const out: StepPreview[] = [];
  for (const s of steps) {
    const step: StepPreview = { channel: s.channel, templateId: s.template_id };
    if (!s.template_id) {
      step.error = 'template_id';
    } else if (sample) {
      try {
        const p = await req<{ body: string; length: number; segments: number }>('POST', `/v1/templates/${s.template_id}/preview`, {
          customer: sample,
          variables: vars,
        });
        step.body = p.body;
        step.length = p.length;
        step.segments = p.segments;
      } catch (e) {
        step.error = message(e);
      }
    }
    out.push(step);
  }
  return { members: count, treated: Math.round(count * (1 - holdout)), sample, steps: out };
}

// "product=稳盈90天" lines (one variable a line) to the campaign's variables; blank lines are
// skipped. Throws naming the line that has no "=" or an empty name.
export function parseVariables(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`line ${i + 1}: expected name=value`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  });
  return out;
}
