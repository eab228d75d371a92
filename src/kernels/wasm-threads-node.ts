import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { switchedOn } from './env.js';
import { startWasmThreads } from './wasm-threads.js';
import type { WasmKernels } from './wasm.js';

let started: WasmKernels | null | undefined;

/**
 * The process's two-thread WebAssembly kernels in Node (wasm-threads.ts), started on first use; null where
 * there is no second core, where RLSTM_HELPER=0 asks for one thread, or where the worker cannot start.
 */
export function nodeWasmThreads(): WasmKernels | null {
  if (started !== undefined) return started;
  started = null;
  if (!switchedOn('RLSTM_HELPER') || os.availableParallelism() < 2) return null;
  try {
    started = startWasmThreads((fail) => {
      const worker = new Worker(new URL('./wasm-worker-node.js', import.meta.url), {
        resourceLimits: { maxOldGenerationSizeMb: 64 }, // it allocates almost nothing: the data are shared
        execArgv: [], // not the process's flags (under `node -e …` it would run that script); V8's, such as relaxed SIMD, are process-wide
      });
      worker.unref(); // a process whose work is done exits even though its worker still waits
      worker.on('error', fail);
      return worker;
    });
  } catch {
    started = null;
  }
  return started;
}
