// The viewer's pages: home, search, titles, people and genres, plans and checkout, the account (the watch page is
// ../watch). Home is in the first bundle; the others load when first visited.

import { lazy, Route } from 'preact-iso';
import { Home } from './home';

const Search = lazy(() => import('./search').then((m) => m.Search));
const TitlePage = lazy(() => import('./title').then((m) => m.TitlePage));
const PersonPage = lazy(() => import('./person').then((m) => m.PersonPage));
const Genre = lazy(() => import('./genre').then((m) => m.Genre));
const Plans = lazy(() => import('./plans').then((m) => m.Plans));
const Account = lazy(() => import('./account').then((m) => m.Account));

export const viewerRoutes = [
  <Route path="/" component={Home} />,
  <Route path="/search" component={Search} />,
  <Route path="/plans" component={Plans} />,
  <Route path="/account" component={Account} />,
  <Route path="/titles/:id" component={TitlePage} />,
  <Route path="/people/:id" component={PersonPage} />,
  <Route path="/genres/:genre" component={Genre} />,
];
