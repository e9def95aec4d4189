// Builds the web app into dist/, which the `marquee-web-app` crate embeds in the marquee binary.
// `npm run dev` serves it with hot reload and sends API calls to a running `marquee up` (MARQUEE_API, default
// http://127.0.0.1:8090).
import { defineConfig } from 'vite';

const api = process.env.MARQUEE_API ?? 'http://127.0.0.1:8090';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    // dist/.vite/manifest.json maps each source module to its chunks: benches/web-app-size.mjs reads it (the
    // binary leaves it out).
    manifest: true,
    // The players are loaded only on the watch page; a warning for them says nothing new.
    chunkSizeWarningLimit: 1200,
  },
  server: { proxy: { '/v1': api, '/openapi.json': api } },
});
