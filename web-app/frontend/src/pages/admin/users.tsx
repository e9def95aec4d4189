// /admin/users: every account, page by page, or those whose email contains what is typed (the API searches);
// make one with any role; change a role, disable or enable an account (asking first). An admin cannot change or
// disable their own account here, so as not to lock themselves out of these pages; the API itself refuses to
// demote or disable the last enabled admin (409 `last_admin`), said in words.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, idempotencyKey, patch, post, withQuery } from '../../api';
import { ConfirmButton } from '../../components/confirm-dialog';
import { Field } from '../../components/field';
import { ErrorNotice, Loading } from '../../components/notice';
import { formatTime } from '../../format';
import { useDebounced } from '../../hooks';
import { useSession } from '../../session';
import { AdminPage, ROLES, type Page, type Role, type User } from './common';

const PAGE = 50;

const ROLE_TEXT: Record<Role, string> = {
  viewer: 'watches what their plans and rentals allow',
  creator: 'also uploads, edits titles and sees their analytics',
  admin: 'also manages users, plans, webhooks and workers',
};

export function UsersPage() {
  const { user: me } = useSession();
  const [users, setUsers] = useState<User[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const [filter, setFilter] = useState('');
  const [said, setSaid] = useState('');

  const search = useDebounced(filter.trim(), 250);
  /** Answers to an older search are dropped when a newer one has been asked. */
  const asked = useRef(0);

  /** Loads the first `count` users (at least one page) matching `search` again, or the page after `after`. */
  const load = useCallback(
    async (count: number, after: string | null = null, keep: User[] = []) => {
      const ask = ++asked.current;
      setLoading(true);
      setError(undefined);
      try {
        let all = keep;
        let next: string | null | undefined = after;
        do {
          const page: Page<User> = await get<Page<User>>(withQuery('/v1/users', { limit: PAGE, after: next ?? undefined, email: search || undefined }));
          all = [...all, ...page.items];
          next = page.next_cursor;
        } while (next && all.length < count);
        if (ask !== asked.current) return;
        setUsers(all);
        setCursor(next ?? null);
      } catch (e) {
        if (ask === asked.current) setError(e);
      } finally {
        if (ask === asked.current) setLoading(false);
      }
    },
    [search],
  );

  useEffect(() => {
    void load(PAGE);
  }, [load]);

  const replace = (changed: User) => setUsers((list) => list.map((u) => (u.id === changed.id ? changed : u)));

  return (
    <AdminPage title="Users and roles">
      <NewUser
        onCreated={(user) => {
          setSaid(`Made ${user.email}, a ${user.role}.`);
          void load(users.length + 1);
        }}
      />

      <h2>Accounts</h2>
      <p role="status" class="said">
        {said}
      </p>
      <div class="field">
        <label for="user-filter">Find by email</label>
        <input
          id="user-filter"
          type="search"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
          aria-describedby="user-filter-hint"
        />
        <small id="user-filter-hint" class="hint">
          Any part of the address, in any case: “smith” finds Jane.Smith@example.com.
        </small>
      </div>
      <ErrorNotice error={error} title="Could not load the users." />
      {loading && users.length === 0 && <Loading label="Loading users…" />}
      {!loading && !error && users.length === 0 && search && <p>No account has an email containing “{search}”.</p>}
      <ul class="admin-list" role="list" aria-label="Accounts" aria-busy={loading}>
        {users.map((user) => (
          <UserItem
            key={user.id}
            user={user}
            self={user.id === me?.id}
            onChanged={(u, what) => {
              replace(u);
              setSaid(what);
            }}
          />
        ))}
      </ul>
      {cursor && (
        <button type="button" class="secondary" disabled={loading} onClick={() => void load(0, cursor, users)}>
          {loading ? 'Loading…' : 'Load more users'}
        </button>
      )}
    </AdminPage>
  );
}

function NewUser({ onCreated }: { onCreated(user: User): void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const formElement = event.currentTarget as HTMLFormElement;
    const form = new FormData(formElement);
    setBusy(true);
    setError(undefined);
    try {
      const user = await post<User>(
        '/v1/users',
        { email: String(form.get('email')).trim(), password: String(form.get('password')), role: String(form.get('role')) },
        { headers: { 'Idempotency-Key': idempotencyKey() } },
      );
      formElement.reset();
      onCreated(user);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="new-user-heading" aria-busy={busy}>
      <h2 id="new-user-heading">New account</h2>
      <ErrorNotice error={error} title="Could not make the account." />
      <div class="form-grid">
        <Field id="new-user-email" label="Email" name="email" type="email" autoComplete="off" required />
        <Field
          id="new-user-password"
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          minLength={10}
          required
          hint="At least 10 characters; tell it to the person, who can change it."
        />
        <div class="field">
          <label for="new-user-role">Role</label>
          <select id="new-user-role" name="role">
            {ROLES.map((role) => (
              <option value={role}>{role}</option>
            ))}
          </select>
        </div>
      </div>
      <div>
        <button type="submit" disabled={busy}>
          {busy ? 'Making…' : 'Make account'}
        </button>
      </div>
    </form>
  );
}

/** A refused change in words: the API's `last_admin` explained, anything else as the API said it. */
function explain(error: unknown, user: User): unknown {
  if (error instanceof ApiError && error.code === 'last_admin') {
    return new Error(
      `${user.email} is the last enabled admin: nobody could manage the users without them. Make another account an admin first.`,
    );
  }
  return error;
}

function UserItem({ user, self, onChanged }: { user: User; self: boolean; onChanged(user: User, what: string): void }) {
  const [role, setRole] = useState<Role>(user.role);
  useEffect(() => setRole(user.role), [user.role]);
  const selectId = `role-${user.id}`;
  const disabled = user.disabled_at != null;
  const change = async (body: { role?: Role; disabled?: boolean }, what: (u: User) => string) => {
    try {
      const changed = await patch<User>(`/v1/users/${user.id}`, body, { headers: { 'Idempotency-Key': idempotencyKey() } });
      onChanged(changed, what(changed));
    } catch (e) {
      throw explain(e, user);
    }
  };
  return (
    <li class={`card admin-item${disabled ? ' user-disabled' : ''}`}>
      <div class="admin-item-head">
        <strong class="email">{user.email}</strong>
        <span class={`badge role-${user.role}`}>{user.role}</span>
        {disabled && <span class="badge badge-warn">disabled</span>}
      </div>
      <p class="muted">
        Joined {formatTime(user.created_at)}
        {disabled && `; disabled ${formatTime(user.disabled_at!)}: cannot sign in, and their tokens and API keys are refused`}
      </p>
      {self ? (
        <p class="muted">
          This is you. Your own role and account cannot be changed here, so that you cannot lock yourself out of the
          admin pages: another admin can change them.
        </p>
      ) : (
        <div class="row">
          <label for={selectId}>Role of {user.email}</label>
          <select id={selectId} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {ROLES.map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
          <ConfirmButton
            label="Change role"
            ariaLabel={`Change role of ${user.email}`}
            title={`Make ${user.email} a ${role}?`}
            confirmLabel={`Make ${role}`}
            secondary
            disabled={role === user.role}
            onConfirm={() => change({ role }, (u) => `${u.email} is now a ${u.role}.`)}
          >
            <p>
              A {role} {ROLE_TEXT[role]}. It counts from their next request; they keep their password and sessions.
            </p>
          </ConfirmButton>
          {disabled ? (
            <ConfirmButton
              label="Enable"
              ariaLabel={`Enable ${user.email}`}
              title={`Enable ${user.email}?`}
              confirmLabel="Enable account"
              secondary
              onConfirm={() => change({ disabled: false }, (u) => `${u.email} is enabled: they can sign in again.`)}
            >
              <p>They can sign in again with their password, as a {user.role}.</p>
            </ConfirmButton>
          ) : (
            <ConfirmButton
              label="Disable"
              ariaLabel={`Disable ${user.email}`}
              title={`Disable ${user.email}?`}
              confirmLabel="Disable account"
              danger
              onConfirm={() => change({ disabled: true }, (u) => `${u.email} is disabled.`)}
            >
              <p>
                They are signed out everywhere at once; their sign-ins, tokens and API keys are refused until an admin
                enables the account again. Nothing of theirs is deleted.
              </p>
            </ConfirmButton>
          )}
        </div>
      )}
    </li>
  );
}
