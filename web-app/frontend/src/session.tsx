// Who is signed in: the user from GET /v1/me, kept in a context every page reads, and the sign-in, sign-up and
// sign-out actions.

import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, get, onTokens, post, storedTokens, storeTokens, type TokenPair } from './api';

export type Role = 'viewer' | 'creator' | 'admin';

export interface User {
  id: string;
  email: string;
  role: Role;
  created_at: number;
  disabled_at?: number | null;
}

const RANK: Record<Role, number> = { viewer: 0, creator: 1, admin: 2 };

/** Whether `user` may do what `role` may (each role may do everything the ones before it may). */
export function hasRole(user: User | null, role: Role): boolean {
  return user !== null && RANK[user.role] >= RANK[role];
}

export interface Session {
  /** The signed-in user; null when signed out. */
  user: User | null;
  /** True until the first GET /v1/me has answered. */
  loading: boolean;
  signIn(email: string, password: string): Promise<User>;
  signUp(email: string, password: string): Promise<User>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ComponentChildren }) {
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(storedTokens() !== null);

  const loadMe = useCallback(async () => {
    try {
      const me = await get<User>('/v1/me');
      setUser(me);
      return me;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) storeTokens(null);
      setUser(null);
      throw e;
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    if (storedTokens()) loadMe().catch(() => undefined);
    // Signing out (or a refresh token refused) anywhere in this tab signs the page out.
    return onTokens((tokens) => {
      if (!tokens) setUser(null);
    });
  }, [loadMe]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const pair = await post<TokenPair>('/v1/auth/login', { email, password }, { anonymous: true });
      storeTokens(pair);
      return loadMe();
    },
    [loadMe],
  );

  const signUp = useCallback(
    async (email: string, password: string) => {
      await post<User>('/v1/auth/register', { email, password }, { anonymous: true });
      return signIn(email, password);
    },
    [signIn],
  );

  const signOut = useCallback(async () => {
    try {
      await post('/v1/auth/logout');
    } catch {
      // Signed out here either way; the refresh token expires on its own.
    }
    storeTokens(null);
  }, []);

  const session = useMemo(() => ({ user, loading, signIn, signUp, signOut }), [user, loading, signIn, signUp, signOut]);
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}
