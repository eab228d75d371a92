import { waitPatience } from './patience.js';
import { compileKernels, kernelExports, kernelImports, makeKernels, type GemmHelper, type WasmKernels } from './wasm.js';

/**
 * The WebAssembly kernels on two threads: the GEMM is cut between this thread and a worker (gemmSplit in
 * wasm.ts), each computing its block of C with its own instance of the module on one shared
 * WebAssembly.Memory (the shared builds of scripts/build-wasm.mjs). This thread copies the operands into that
 * memory once, both threads read them there, and the result is copied out once both blocks are in. Each
 * element of C gets the instructions it gets on one thread (assembly/gemm.ts), so the results are bit for bit
 * those of one thread.
 *
 * Works in Node (worker_threads, wasm-worker-node.ts) and in a browser where the page is cross-origin isolated
 * (a Web Worker, wasm-worker-browser.ts; without isolation there is no shared memory and startWasmThreads
 * returns null). Nothing here imports Node modules: the caller says how to start the worker.
 *
 * The protocol needs no event loop: a call's arguments go into `control` (shared Int32 words, alpha and beta
 * as float bits), this thread bumps POSTED and wakes the worker (Atomics.notify); the worker computes,
 * stores FINISHED and wakes this thread. Both spin briefly before sleeping, since the next task (or the end of
 * this one) is usually microseconds away. This thread's waits are Atomics.wait: in a browser it must itself
 * be a worker (the lab's training runs in one), as the page's main thread may not block.
 */

/** A started worker: how the first message (WasmHelperInit) reaches it. Node's Worker and a browser's both fit. */
export interface WorkerLike {
  postMessage(message: unknown): void;
}

/** The first (and only) message to the worker. */
export interface WasmHelperInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: Int32Array;
  /** The worker's GEMM workspace in the shared memory (reserved by this thread's instance). */
  work: number;
}

// slots of the control words
export const POSTED = 0; //   calls posted by this thread
export const FINISHED = 1; // calls the worker has finished
export const READY = 2; //    1 once the worker's instance is up
export const FAILED = 3; //   1 after the worker failed (it then stops)
export const ARGS = 4; //     the gemm arguments, in order: transA … ldc (14 words; alpha at ARGS+5, beta at ARGS+10)
export const CONTROL_WORDS = ARGS + 14;

/** Pages the shared memory starts with and may grow to (its build declares them: scripts/build-wasm.mjs). */
const INITIAL_PAGES = 16;
const MAXIMUM_PAGES = 32768;

/** How long this thread waits for the worker's block before deciding the worker is stuck (a call takes milliseconds). */
const FINISH_TIMEOUT_MS = 60_000;
const SPINS = 20_000; // ≈ 50–100 µs of checking before sleeping

/**
 * The two-thread kernels, or null where there is no shared WebAssembly memory (a page that is not
 * cross-origin isolated) or no WebAssembly SIMD. `startWorker` starts the worker script (wasm-worker-node.ts in
 * Node, wasm-worker-browser.ts in a browser), and calls `fail` if it dies; it is sent one WasmHelperInit. The kernels work at once, on one
 * thread, until the worker is up (tens of milliseconds): the results are the same either way.
 */
export function startWasmThreads(startWorker: (fail: () => void) => WorkerLike): WasmKernels | null {
  if (typeof SharedArrayBuffer !== 'function') return null;
  let memory: WebAssembly.Memory, instance: WebAssembly.Instance, variant: WasmKernels['variant'], module: WebAssembly.Module;
  try {
    memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: true });
    ({ module, variant } = compileKernels(true));
    instance = new WebAssembly.Instance(module, kernelImports(memory));
  } catch {
    return null; // no shared memory here (not isolated) or no SIMD
  }
  const k = kernelExports(instance);
  const helperWork = k.reserve(k.gemmWorkBytes());
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  const thread = gemmThread(control);
  const kernels = makeKernels(k, variant, { thread, work: helperWork });
  const init: WasmHelperInit = { module, memory, control, work: helperWork };
  // fail: for the starter's error handler (the script did not load, the thread died): this thread then stops waiting
  startWorker(() => { Atomics.store(control, FAILED, 1); Atomics.notify(control, FINISHED); }).postMessage(init);
  return kernels;
}

/** This thread's side of the protocol (see the top of this file). */
function gemmThread(control: Int32Array): GemmHelper {
  const bits = new Float32Array(control.buffer);
  return {
    ready: () => Atomics.load(control, READY) === 1 && Atomics.load(control, FAILED) === 0,
    failed: () => Atomics.load(control, FAILED) !== 0,
    tasksDone: () => Atomics.load(control, FINISHED),
    run(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, work) {
      control[ARGS] = transA; control[ARGS + 1] = transB; control[ARGS + 2] = M; control[ARGS + 3] = N;
      control[ARGS + 4] = K; bits[ARGS + 5] = alpha; control[ARGS + 6] = A; control[ARGS + 7] = lda;
      control[ARGS + 8] = B; control[ARGS + 9] = ldb; bits[ARGS + 10] = beta; control[ARGS + 11] = C;
      control[ARGS + 12] = ldc; control[ARGS + 13] = work;
      Atomics.add(control, POSTED, 1); // a sequentially consistent write: the arguments are visible before it
      Atomics.notify(control, POSTED);
    },
    finish() {
      const posted = Atomics.load(control, POSTED);
      let spins = 0;
      let patience: { expired(): boolean } | null = null;
      for (;;) {
        const finished = Atomics.load(control, FINISHED);
        if (finished === posted) return;
        if (Atomics.load(control, FAILED) !== 0) throw new Error('the WebAssembly GEMM worker thread failed (RLSTM_HELPER=0 runs without it)');
        if (++spins < SPINS) continue;
        patience ??= waitPatience(FINISH_TIMEOUT_MS);
        if (patience.expired()) throw new Error('the WebAssembly GEMM worker thread stopped answering (RLSTM_HELPER=0 runs without it)');
        Atomics.wait(control, FINISHED, finished, 1000);
      }
    },
  };
}

/**
 * The worker's loop (called by wasm-worker-node.ts and wasm-worker-browser.ts with the first message):
 * its own instance on the shared memory, then forever: wait for a call, compute it, say so.
 */
export function serveGemmThread(init: WasmHelperInit): void {
  const { control } = init;
  const bits = new Float32Array(control.buffer);
  let k: ReturnType<typeof kernelExports>;
  try {
    k = kernelExports(new WebAssembly.Instance(init.module, kernelImports(init.memory)));
  } catch {
    Atomics.store(control, FAILED, 1);
    return;
  }
  Atomics.store(control, READY, 1);
  let done = 0;
  for (;;) {
    let spins = 0;
    while (Atomics.load(control, POSTED) === done) {
      if (++spins >= SPINS) { Atomics.wait(control, POSTED, done); spins = 0; }
    }
    try {
      k.gemm(control[ARGS], control[ARGS + 1], control[ARGS + 2], control[ARGS + 3], control[ARGS + 4], bits[ARGS + 5],
        control[ARGS + 6] >>> 0, control[ARGS + 7], control[ARGS + 8] >>> 0, control[ARGS + 9], bits[ARGS + 10],
        control[ARGS + 11] >>> 0, control[ARGS + 12], control[ARGS + 13] >>> 0);
    } catch {
      Atomics.store(control, FAILED, 1);
      Atomics.notify(control, FINISHED);
      return;
    }
    done++;
    Atomics.store(control, FINISHED, done);
    Atomics.notify(control, FINISHED);
  }
}
