// /admin/users: every account, page by page; make one with any role; change a role (asking first). An admin
// cannot change their own role here: the API would let them demote themselves and lose these pages.

import { useCallback, useEffect, useState } from 'preact/hooks';
import { get, idempotencyKey, patch, post, withQuery } from '../../api';
import { ConfirmButton } from '../../components/confirm-dialog';
import { Field } from '../../components/field';
import { ErrorNotice, Loading, Note } from '../../components/notice';
import { formatTime } from '../../format';
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

  /** Loads the first `count` users (at least one page) again. */
  const load = useCallback(async (count: number, after: string | null = null, keep: User[] = []) => {
    setLoading(true);
    setError(undefined);
    try {
      let all = keep;
      let next: string | null | undefined = after;
      do {
        const page: Page<User> = await get<Page<User>>(withQuery('/v1/users', { limit: PAGE, after: next ?? undefined }));
        all = [...all, ...page.items];
        next = page.next_cursor;
      } while (next && all.length < count);
      setUsers(all);
      setCursor(next ?? null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load(PAGE);
  }, [load]);

  const replace = (changed: User) => setUsers((list) => list.map((u) => (u.id === changed.id ? changed : u)));
  const needle = filter.trim().toLowerCase();
  const shown = needle ? users.filter((u) => u.email.toLowerCase().includes(needle)) : users;

  return (
    <AdminPage title="Users and roles">
      <NewUser
        onCreated={(user) => {
          setSaid(`Made ${user.email}, a ${user.role}.`);
          void load(users.length + 1);
        }}
      />

      <h2>Accounts</h2>
      <Note>
        Disabling or enabling an account is not available yet: the API changes only a user's role. To stop someone
        from uploading or managing, make them a viewer.
      </Note>
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
          Looks among the {users.length} account{users.length === 1 ? '' : 's'} loaded
          {cursor ? '; load more to look further (the API has no search by email)' : ''}.
        </small>
      </div>
      <ErrorNotice error={error} title="Could not load the users." />
      {loading && users.length === 0 && <Loading label="Loading users…" />}
      {!loading && users.length > 0 && shown.length === 0 && <p>No account loaded has an email containing “{filter.trim()}”.</p>}
      <ul class="admin-list" role="list" aria-label="Accounts">
        {shown.map((user) => (
          <UserItem key={user.id} user={user} self={user.id === me?.id} onChanged={(u) => {
            replace(u);
            setSaid(`${u.email} is now a ${u.role}.`);
          }} />
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

function UserItem({ user, self, onChanged }: { user: User; self: boolean; onChanged(user: User): void }) {
  const [role, setRole] = useState<Role>(user.role);
  useEffect(() => setRole(user.role), [user.role]);
  const selectId = `role-${user.id}`;
  return (
    <li class="card admin-item">
      <div class="admin-item-head">
        <strong class="email">{user.email}</strong>
        <span class={`badge role-${user.role}`}>{user.role}</span>
        {user.disabled_at ? <span class="badge badge-warn">disabled {formatTime(user.disabled_at)}</span> : null}
      </div>
      <p class="muted">Joined {formatTime(user.created_at)}</p>
      {self ? (
        <p class="muted">
          This is you. Your own role cannot be changed here, so that you cannot lock yourself out of the admin pages:
          another admin can change it.
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
            onConfirm={async () => {
              const changed = await patch<User>(`/v1/users/${user.id}`, { role }, { headers: { 'Idempotency-Key': idempotencyKey() } });
              onChanged(changed);
            }}
          >
            <p>
              A {role} {ROLE_TEXT[role]}. It counts from their next request; they keep their password and sessions.
            </p>
          </ConfirmButton>
        </div>
      )}
    </li>
  );
}
