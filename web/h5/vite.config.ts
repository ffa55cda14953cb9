import { defineConfig } from 'vite';

// The pages are served by `mercator serve --web-root DIR` at /h5/. In development the API is
// proxied to a running server (MERCATOR_URL, default http://127.0.0.1:8080).
const api = process.env.MERCATOR_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/h5/',
  build: { outDir: 'dist', target: 'es2019', chunkSizeWarningLimit: 300 },
  server: { proxy: { '/v1': { target: api, changeOrigin: false } } },
  preview: { proxy: { '/v1': { target: api, changeOrigin: false } } },
  test: { environment: 'jsdom' },
} as never);
