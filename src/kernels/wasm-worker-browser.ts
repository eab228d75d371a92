import { serveGemmThread, type WasmHelperInit } from './wasm-threads.js';

/**
 * The GEMM worker of the two-thread WebAssembly kernels in a browser: a module Web Worker, started by the
 * page's training worker as `new Worker(new URL('…/src/kernels/wasm-worker-browser.ts', import.meta.url),
 * { type: 'module' })` (see startWasmThreads). Its first message is the WasmHelperInit.
 */
const scope = self as unknown as { onmessage: ((event: MessageEvent<WasmHelperInit>) => void) | null };
scope.onmessage = (event) => {
  scope.onmessage = null;
  serveGemmThread(event.data);
};
