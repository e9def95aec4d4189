// The admin's pages (under /admin): users and roles, plans, webhooks and deliveries, events, workers and the job
// queue. Each is loaded when first opened, so viewers never download them.

import { lazy, Route } from 'preact-iso';

const Overview = lazy(() => import('./overview').then((m) => m.AdminOverview));
const Users = lazy(() => import('./users').then((m) => m.UsersPage));
const Plans = lazy(() => import('./plans').then((m) => m.PlansPage));
const Webhooks = lazy(() => import('./webhooks').then((m) => m.WebhooksPage));
const Webhook = lazy(() => import('./webhook').then((m) => m.WebhookPage));
const Events = lazy(() => import('./events').then((m) => m.EventsPage));
const Workers = lazy(() => import('./workers').then((m) => m.WorkersPage));

export const adminRoutes = [
  <Route path="/admin" component={Overview} />,
  <Route path="/admin/users" component={Users} />,
  <Route path="/admin/plans" component={Plans} />,
  <Route path="/admin/webhooks" component={Webhooks} />,
  <Route path="/admin/webhooks/:id" component={Webhook} />,
  <Route path="/admin/events" component={Events} />,
  <Route path="/admin/workers" component={Workers} />,
];
