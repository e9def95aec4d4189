// /admin: what an admin can look after, one card each.

import { AdminPage } from './common';

const AREAS = [
  { href: '/admin/users', name: 'Users and roles', text: 'Make accounts and change what each may do.' },
  { href: '/admin/plans', name: 'Plans', text: 'The subscriptions on sale: make, rename, archive.' },
  { href: '/admin/webhooks', name: 'Webhooks', text: 'Endpoints that receive events, their delivery logs and redelivery.' },
  { href: '/admin/events', name: 'Events', text: 'Everything that happened to assets, and sending an event again.' },
  { href: '/admin/workers', name: 'Workers and job queue', text: 'Who is transcoding what; retry or cancel a job.' },
];

export function AdminOverview() {
  return (
    <AdminPage title="Admin" overview>
      <ul class="admin-areas" role="list">
        {AREAS.map((area) => (
          <li class="card">
            <h2>
              <a href={area.href}>{area.name}</a>
            </h2>
            <p class="muted">{area.text}</p>
          </li>
        ))}
      </ul>
    </AdminPage>
  );
}
