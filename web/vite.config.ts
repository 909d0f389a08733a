import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

/** Where `npm run dev:web` sends API and socket traffic: a service started with `npm start`. */
const service = process.env.PARLEY_URL ?? 'http://localhost:3000';

/**
 * Source maps are left out unless the build asks for them (`WEB_SOURCE_MAPS=true npm run
 * build:web`): served, they hand the client's whole source to anyone. `npm run dev:web` has
 * them regardless.
 */
const sourcemap = process.env.WEB_SOURCE_MAPS === 'true';

// Builds web/ into web/dist, which the service serves at `/` (src/web/web-client.ts).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap,
    rollupOptions: {
      // The service worker is an entry of its own, at /sw.js so that its scope is the whole site,
      // with a fixed name (the browser checks that URL for updates). It imports nothing of the
      // page's, so it builds to one classic script.
      input: { index: 'index.html', sw: 'src/sw/service-worker.ts' },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
  // @parley/client from its TypeScript source (packages/client/package.json's `parley-source`
  // export), so the page is built without building the library first.
  resolve: { conditions: ['parley-source', ...defaultClientConditions] },
  server: {
    proxy: {
      '/api': service,
      '/ws': { target: service.replace(/^http/, 'ws'), ws: true },
    },
  },
});
