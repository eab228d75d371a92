import { parentPort } from 'node:worker_threads';
import { serveGemmThread, type WasmHelperInit } from './wasm-threads.js';

/** The GEMM worker thread of the two-thread WebAssembly kernels in Node (started by wasm-threads-node.ts). */
parentPort!.once('message', (init: WasmHelperInit) => serveGemmThread(init));
