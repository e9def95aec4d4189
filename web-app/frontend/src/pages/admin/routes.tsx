// The admin's pages (under /admin): users and roles, plans, webhooks and deliveries, workers and the job queue.

import { Route } from 'preact-iso';
import { Placeholder } from '../placeholder';

export const adminRoutes = [<Route path="/admin/*" component={() => <Placeholder name="Admin" />} />, <Route path="/admin" component={() => <Placeholder name="Admin" />} />];
