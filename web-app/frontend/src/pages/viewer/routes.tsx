// The viewer's pages: home, search, titles, plans and checkout, the account (the watch page is ../watch).

import { Route } from 'preact-iso';
import { Placeholder } from '../placeholder';

export const viewerRoutes = [
  <Route path="/" component={() => <Placeholder name="Home" />} />,
  <Route path="/search" component={() => <Placeholder name="Search" />} />,
  <Route path="/plans" component={() => <Placeholder name="Plans" />} />,
  <Route path="/account" component={() => <Placeholder name="Account" />} />,
  <Route path="/titles/:id" component={() => <Placeholder name="Title" />} />,
];
