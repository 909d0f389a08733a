import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** Where `npm run dev:web` sends API and socket traffic: a service started with `npm start`. */
const service = process.env.PARLEY_URL ?? 'http://localhost:3000';

// Builds web/ into web/dist, which the service serves at `/` (src/web/web-client.ts).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    proxy: {
      '/api': service,
      '/ws': { target: service.replace(/^http/, 'ws'), ws: true },
    },
  },
});
