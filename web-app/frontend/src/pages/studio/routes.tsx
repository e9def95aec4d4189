// The creator's pages (under /studio): library, upload, catalog entries, analytics. Each is loaded when first
// visited (viewers never download them) and shown to creators and admins only.

import type { ComponentType } from 'preact';
import { lazy, Route } from 'preact-iso';
import { RequireRole } from '../../components/layout';

function creatorsOnly(Page: ComponentType<Record<string, unknown>>) {
  return (props: Record<string, unknown>) => (
    <RequireRole role="creator">
      <Page {...props} />
    </RequireRole>
  );
}

const Library = creatorsOnly(lazy(() => import('./library').then((m) => m.Library)));
const AssetPage = creatorsOnly(lazy(() => import('./asset').then((m) => m.AssetPage)));
const UploadPage = creatorsOnly(lazy(() => import('./upload').then((m) => m.UploadPage)));
const Titles = creatorsOnly(lazy(() => import('./titles').then((m) => m.Titles)));
const TitleEditor = creatorsOnly(lazy(() => import('./title-editor').then((m) => m.TitleEditor)));
const Analytics = creatorsOnly(lazy(() => import('./analytics').then((m) => m.Analytics)));

export const studioRoutes = [
  <Route path="/studio" component={Library} />,
  <Route path="/studio/upload" component={UploadPage} />,
  <Route path="/studio/assets/:id" component={AssetPage} />,
  <Route path="/studio/titles" component={Titles} />,
  <Route path="/studio/titles/new" component={TitleEditor} />,
  <Route path="/studio/titles/:id" component={TitleEditor} />,
  <Route path="/studio/analytics/:titleId" component={Analytics} />,
];
