// The watch page: /watch/:id plays a title (its feature), /watch/:id?asset=ASSET one asset of it (or, for its
// owner, any asset); see ./watch.tsx. Loaded when first visited, with the player; the streaming engines
// (hls.js, dash.js) come later still, from the player.

import { lazy, Route } from 'preact-iso';

const WatchPage = lazy(() => import('./watch'));

export const watchRoutes = [<Route path="/watch/:id" component={WatchPage} />];
