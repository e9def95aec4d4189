// The creator's pages (under /studio): library, upload, catalog entries, analytics.

import { Route } from 'preact-iso';
import { Placeholder } from '../placeholder';

export const studioRoutes = [<Route path="/studio/*" component={() => <Placeholder name="Studio" />} />, <Route path="/studio" component={() => <Placeholder name="Studio" />} />];
