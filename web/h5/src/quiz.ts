// Quiz: the questions without their answers; the server scores the attempt.
import { newKey } from './api';
import { h } from './dom';
import type { PageContext } from './main';
import { rewardText } from './prizes';

interface Question {
  index: number;
  text: string;
  type: 'single' | 'multiple';
  options: string[];
}
interface Quiz {
  questions: Question[];
  pass_score: number;
  max_score: number;
  reward?: unknown;
  attempts_left_today: number;
  passed: boolean;
}
interface Attempt {
  score: number;
  max_score: number;
  passed: boolean;
  rewarded: boolean;
  reward?: unknown;
  attempts_left_today: number;
}

/** The answers of a form: an option index for single choice, indexes for multiple choice. */
export function answersOf(questions: Question[], checked: (q: number, o: number) => boolean): Array<number | number[]> {
  return questions.map((q) => {
    const chosen = q.options.map((_, o) => o).filter((o) => checked(q.index, o));
    return q.type === 'single' ? (chosen[0] ?? -1) : chosen;
  });
}

export async function mountQuiz(body: HTMLElement, ctx: PageContext): Promise<void> {
  const base = `/v1/h5/activities/${ctx.status.id}/quiz`;
  const quiz = await ctx.api.get<Quiz>(base);
  const form = h('form', { class: 'quiz', 'data-testid': 'quiz' }) as HTMLFormElement;
  for (const q of quiz.questions) {
    form.append(
      h(
        'fieldset',
        {},
        h('legend', {}, `${q.index + 1}. ${q.text}${q.type === 'multiple' ? '（多选）' : ''}`),
        ...q.options.map((o, i) =>
          h('label', {}, h('input', { type: q.type === 'single' ? 'radio' : 'checkbox', name: `q${q.index}`, value: String(i) }), o),
        ),
      ),
    );
  }
  const submit = h('button', { class: 'btn btn-draw', type: 'submit', 'data-testid': 'quiz-submit', disabled: quiz.attempts_left_today <= 0 }, '提交答案');
  form.append(
    h('p', { class: 'hint' }, `答对 ${quiz.pass_score}/${quiz.max_score} 分即可获得 ${rewardText(quiz.reward)}；今日还可答题 ${quiz.attempts_left_today} 次`),
    submit,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  body.append(form);
  async function send(): Promise<void> {
    const answers = answersOf(quiz.questions, (q, o) =>
      Boolean(form.querySelector<HTMLInputElement>(`input[name="q${q}"][value="${o}"]:checked`)),
    );
    try {
      const r = await ctx.api.post<Attempt>(`${base}/answers`, { answers }, newKey());
      const text = r.passed
        ? `答对 ${r.score}/${r.max_score} 分${r.rewarded ? `，获得 ${rewardText(r.reward)}` : ''}`
        : `得分 ${r.score}/${r.max_score}，未达标，再试一次吧`;
      ctx.showResult({ draw_id: '', prize_id: '', prize_name: text, kind: 'quiz', won: r.passed });
      if (r.attempts_left_today <= 0) (submit as HTMLButtonElement).disabled = true;
    } catch (e) {
      ctx.showState(ctx.problemState(e));
    }
  }
}
