// Marquee's web app: one page that routes in the browser; the server answers every non-API path with it.

import { render } from 'preact';
import { ErrorBoundary, LocationProvider, Route, Router } from 'preact-iso';
import { Layout } from './components/layout';
import { NotFound, SignIn, SignUp } from './pages/account';
import { adminRoutes } from './pages/admin/routes';
import { studioRoutes } from './pages/studio/routes';
import { viewerRoutes } from './pages/viewer/routes';
import { watchRoutes } from './pages/watch/routes';
import { SessionProvider } from './session';
import './styles.css';

function App() {
  return (
    <LocationProvider>
      <SessionProvider>
        <Layout>
          <ErrorBoundary>
            <Router
              onRouteChange={() => {
                // Move focus to the new page, as a full page load would, for keyboard and screen-reader users.
                document.getElementById('main')?.focus({ preventScroll: true });
                window.scrollTo(0, 0);
              }}
            >
              {viewerRoutes}
              {watchRoutes}
              {studioRoutes}
              {adminRoutes}
              <Route path="/signin" component={SignIn} />
              <Route path="/signup" component={SignUp} />
              <Route default component={NotFound} />
            </Router>
          </ErrorBoundary>
        </Layout>
      </SessionProvider>
    </LocationProvider>
  );
}

render(<App />, document.getElementById('app')!);
