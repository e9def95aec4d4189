// The watch page: /watch/:id plays a title (its feature), /watch/:id?asset=ASSET one asset of it (or, for its
// owner, any asset).

import { Route } from 'preact-iso';
import { Placeholder } from '../placeholder';

export const watchRoutes = [<Route path="/watch/:id" component={() => <Placeholder name="Watch" />} />];
