// The admin's pages (under /admin): users and roles, plans, webhooks and deliveries, events, workers and the job
// queue. Each is loaded when first opened, so viewers never download them.

import type { ComponentType } from 'preact';
import { lazy, Route } from 'preact-iso';
import { RequireRole } from '../../components/layout';

/** The page for admins only: nobody else's browser loads it or calls the API it calls. */
const forAdmins = (Page: ComponentType) => () => (
  <RequireRole role="admin">
    <Page />
  </RequireRole>
);

const Overview = forAdmins(lazy(() => import('./overview').then((m) => m.AdminOverview)));
const Users = forAdmins(lazy(() => import('./users').then((m) => m.UsersPage)));
const Plans = forAdmins(lazy(() => import('./plans').then((m) => m.PlansPage)));
const Webhooks = forAdmins(lazy(() => import('./webhooks').then((m) => m.WebhooksPage)));
const Webhook = forAdmins(lazy(() => import('./webhook').then((m) => m.WebhookPage)));
const Events = forAdmins(lazy(() => import('./events').then((m) => m.EventsPage)));
const Workers = forAdmins(lazy(() => import('./workers').then((m) => m.WorkersPage)));

export const adminRoutes = [
  <Route path="/admin" component={Overview} />,
  <Route path="/admin/users" component={Users} />,
  <Route path="/admin/plans" component={Plans} />,
  <Route path="/admin/webhooks" component={Webhooks} />,
  <Route path="/admin/webhooks/:id" component={Webhook} />,
  <Route path="/admin/events" component={Events} />,
  <Route path="/admin/workers" component={Workers} />,
];
