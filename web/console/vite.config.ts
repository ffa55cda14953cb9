import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API to a running `mercator serve` (MERCATOR_URL, default
// http://127.0.0.1:8080; start it with --insecure-cookies for plain http).
const target = process.env.MERCATOR_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: { outDir: 'dist', chunkSizeWarningLimit: 4000 },
  server: { proxy: { '/v1': { target, changeOrigin: false } } },
  preview: { proxy: { '/v1': { target, changeOrigin: false } } },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
