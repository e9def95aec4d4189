// A person: name, other names, biography and the titles they are credited in (GET /v1/people/{id}).

import { useRoute } from 'preact-iso';
import { ApiError } from '../../api';
import { ErrorNotice, Loading } from '../../components/notice';
import { useResource, useTitle } from '../../hooks';
import type { Person } from './types';

export function PersonPage() {
  const { params } = useRoute();
  const person = useResource<Person>(`/v1/people/${encodeURIComponent(params.id)}`);
  useTitle(person.data?.name ?? 'Person');
  if (person.error && !person.data) {
    const missing = person.error instanceof ApiError && person.error.status === 404;
    return (
      <section class="page narrow">
        <h1>{missing ? 'Person not found' : 'This person could not be loaded'}</h1>
        {missing ? <p>No one is at this address. <a href="/search">Search the catalog</a>.</p> : <ErrorNotice error={person.error} />}
      </section>
    );
  }
  if (!person.data) return <Loading />;
  const p = person.data;
  return (
    <section class="page stack">
      <h1>{p.name}</h1>
      {p.other_names.length > 0 && <p class="muted">Also known as {p.other_names.join(', ')}</p>}
      {p.biography && <p class="synopsis">{p.biography}</p>}
      <h2>Titles</h2>
      {p.titles.length === 0 ? (
        <p class="muted">No title available now credits {p.name}.</p>
      ) : (
        <ul class="plain-list">
          {p.titles.map((title) => (
            <li key={title.id}>
              <a href={`/titles/${encodeURIComponent(title.id)}`}>{title.title}</a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
