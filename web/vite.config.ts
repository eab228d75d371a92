import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The walkthrough (web/index.html) bundled from the library's own src/ modules.
 *   npm run web        serves it with live reload
 *   npm run build:web  writes static files to web/dist/ (relative paths: any static host, any folder)
 */
const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Cross-origin isolation, so that the page may use shared memory: the lab's WebAssembly GEMM then runs on two
 * threads (src/kernels/wasm-threads.ts). A static host serving web/dist needs the same two headers.
 */
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root,
  base: './',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1200, // Vega, which draws the chart, is most of the page's script
  },
  worker: { format: 'es' },
  server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] }, headers: isolation },
  preview: { headers: isolation },
});
