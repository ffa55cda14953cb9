// RFC 9457 problem details from the API and their mapping onto form fields.
// The API names the offending member in errors[].field as a path: "name",
// "eligibility.start", "pools[1].pool.prizes[0].weight", "rule" (see src/api/json_util.h).

export interface FieldError {
  field: string;
  reason: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
}

export type NamePath = (string | number)[];

// "pools[1].pool.prizes[0].weight" -> ["pools", 1, "pool", "prizes", 0, "weight"]
export function fieldPath(field: string): NamePath {
  const out: NamePath = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[1]);
  }
  return out;
}

// Problem -> antd Form fields ({name, errors}); members of a problem with no errors list, or
// whose field the form does not have, go to `rest` to be shown above the form.
export function problemFields(
  problem: Problem,
  known: (path: NamePath) => boolean = () => true,
  map: (path: NamePath) => NamePath = (p) => p,
): { fields: { name: NamePath; errors: string[] }[]; rest: string[] } {
  const byPath = new Map<string, { name: NamePath; errors: string[] }>();
  const rest: string[] = [];
  for (const e of problem.errors ?? []) {
    const name = map(fieldPath(e.field));
    if (!e.field || !known(name)) {
      rest.push(e.field ? `${e.field}: ${e.reason}` : e.reason);
      continue;
    }
    const key = JSON.stringify(name);
    const entry = byPath.get(key) ?? { name, errors: [] };
    entry.errors.push(e.reason);
    byPath.set(key, entry);
  }
  if ((problem.errors ?? []).length === 0) rest.push(problem.detail || problem.title || `HTTP ${problem.status}`);
  return { fields: [...byPath.values()], rest };
}

// The form field an error belongs to: the longest prefix of `path` that holds a plain value
// (string, number, boolean, null) or a list of plain values (a tag list: the error of one
// entry goes on the list). Null when only a group (an object or a list of objects) matches:
// such errors ("a wheel shows 2 to 12 prizes") go to the banner.
export function resolveField(path: NamePath, valueAt: (p: NamePath) => unknown): NamePath | null {
  const plain = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
  for (let n = path.length; n > 0; n--) {
    const p = path.slice(0, n);
    const v = valueAt(p);
    if (v === undefined) continue;
    if (plain(v)) {
      const parent = n > 1 && typeof p[n - 1] === 'number' ? valueAt(p.slice(0, n - 1)) : undefined;
      return Array.isArray(parent) ? p.slice(0, n - 1) : p;
    }
    if (Array.isArray(v) && v.every(plain)) return p;
    if (typeof v === 'object' && (v as { isValid?: unknown }).isValid) return p; // a dayjs value
    return null;
  }
  return null;
}
