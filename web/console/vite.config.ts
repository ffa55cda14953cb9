import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API to a running `mercator serve` (MERCATOR_URL, default
// http://127.0.0.1:8080; start it with --insecure-cookies for plain http).
const target = process.env.MERCATOR_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    chunkSizeWarningLimit: 2000,
    // Libraries change less often than the console: separate, long-cached chunks.
    rollupOptions: { output: { manualChunks: { echarts: ['echarts', 'echarts-for-react'], antd: ['antd', '@ant-design/icons'], react: ['react', 'react-dom', 'react-router-dom', 'i18next', 'react-i18next'] } } },
  },
  server: { proxy: { '/v1': { target, changeOrigin: false } } },
  preview: { proxy: { '/v1': { target, changeOrigin: false } } },
  test: { environment: 'node', include: ['src/**/*.test.ts', 'src/**/*.test.tsx'] },
});
