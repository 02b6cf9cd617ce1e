import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The UI is served by the local server from web/dist: same origin, strict CSP (no inline
// script or style), nothing fetched from elsewhere. Each settings tab is its own chunk.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // A module-preload polyfill would be an inline script, which the CSP forbids.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    // zxcvbn's English dictionary is one 1.2 MB chunk, loaded only on the first-run screen (from
    // this device, not a network); everything a normal visit loads is far below this.
    chunkSizeWarningLimit: 1500,
    // .vite/manifest.json maps each source to its chunk and static imports: bench/bundle.ts
    // reads it to tell what a first visit loads from what each lazy chunk adds.
    manifest: true,
  },
  server: {
    // `npx vite web` during development proxies the API to a running `npm start`.
    proxy: { '/api': 'http://127.0.0.1:7788' },
  },
});
