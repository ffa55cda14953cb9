// The H5 API (/v1/h5/..., docs/openapi.yaml tag h5) with the customer token.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export type Fetch = typeof fetch;

export class H5Api {
  constructor(
    private readonly token: string,
    private readonly fetchFn: Fetch = (...a) => fetch(...a),
  ) {}

  async get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  /** A POST that changes something: one Idempotency-Key per user action, reused on a retry. */
  async post<T>(path: string, body: unknown, key: string): Promise<T> {
    try {
      return await this.call<T>('POST', path, body, key);
    } catch (e) {
      if (e instanceof ApiError) throw e;
      // The network failed before an answer: the same key returns the first result if the
      // server got the request, so one retry cannot draw twice.
      return this.call<T>('POST', path, body, key);
    }
  }

  private async call<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (key) headers['idempotency-key'] = key;
    const res = await this.fetchFn(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const p = (json ?? {}) as { code?: string; detail?: string; title?: string };
      throw new ApiError(res.status, p.code, p.detail ?? p.title ?? `HTTP ${res.status}`);
    }
    return json as T;
  }
}

export function newKey(): string {
  const c = globalThis.crypto;
  if (c && 'randomUUID' in c) return c.randomUUID();
  return `k-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
