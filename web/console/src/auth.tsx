// The staff session: who is signed in, their roles and permissions, the CSRF token.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, request, setCsrf, setUnauthorizedHandler, type Schemas } from './api/client';

export type Session = Schemas['StaffSession'];

interface AuthState {
  session: Session | null;
  loading: boolean;
  login(username: string, password: string): Promise<Session>;
  logout(): Promise<void>;
  can(permission: string): boolean;
}

const Ctx = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(null);
  const [loading, setLoading] = useState(true);

  const adopt = useCallback((s: Session | null) => {
    setCsrf(s?.csrf_token ?? '');
    setSession(s);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => adopt(null));
    api
      .get('/v1/auth/me')
      .then((me) => adopt((me as Session).kind === 'staff' ? (me as Session) : null))
      .catch(() => adopt(null))
      .finally(() => setLoading(false));
  }, [adopt]);

  const login = useCallback(
    async (username: string, password: string) => {
      const s = await request<Session>('POST', '/v1/auth/login', { username, password });
      adopt(s);
      return s;
    },
    [adopt],
  );
  const logout = useCallback(async () => {
    await request('POST', '/v1/auth/logout').catch(() => {});
    adopt(null);
  }, [adopt]);
  const can = useCallback((p: string) => !!session?.permissions?.includes(p), [session]);

  return <Ctx.Provider value={{ session, loading, login, logout, can }}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(Ctx);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}
