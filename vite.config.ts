import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** The web UI: built into dist/web and served by the API server (no separate server). */
export default defineConfig({
  root: 'src/web',
  plugins: [react()],
  build: { outDir: '../../dist/web', emptyOutDir: true, sourcemap: true },
  server: { proxy: { '/api': 'http://127.0.0.1:3000', '/oauth': 'http://127.0.0.1:3000' } },
});
