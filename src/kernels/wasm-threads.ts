import { waitPatience } from './patience.js';
import { compileKernels, gemmBlock, kernelExports, kernelImports, makeKernels, type GemmCall, type GemmHelper, type WasmKernels } from './wasm.js';

/**
 * The WebAssembly kernels on two threads: a GEMM is cut into blocks of C (gemmChunks in wasm.ts), which this
 * thread and a worker take one at a time, each computing with its own instance of the module on one shared
 * WebAssembly.Memory (the shared builds of scripts/build-wasm.mjs). This thread copies the operands into that
 * memory once, both threads read them there, and the result is copied out once every block is in. Each
 * element of C gets the instructions it gets on one thread (assembly/gemm.ts), so the results are bit for bit
 * those of one thread, whoever computed which block. Taking blocks as they come, instead of a fixed half
 * each, keeps a busy machine from making it slower than one thread: when the worker is not running (another
 * process has the core), this thread takes its blocks too, and waits only for a block the worker has begun.
 *
 * Works in Node (worker_threads, wasm-worker-node.ts) and in a browser where the page is cross-origin isolated
 * (a Web Worker, wasm-worker-browser.ts; without isolation there is no shared memory and startWasmThreads
 * returns null). Nothing here imports Node modules: the caller says how to start the worker.
 *
 * The protocol needs no event loop: a call goes into `control` (shared Int32 words, alpha and beta as float
 * bits), this thread resets NEXT, bumps POSTED and wakes the worker (Atomics.notify); both take blocks by
 * compare-and-swap on NEXT; the worker counts its finished blocks in BLOCKS_DONE and wakes this thread. Both
 * spin briefly before sleeping, since the next call (or the end of this one) is usually microseconds away.
 * This thread's waits are Atomics.wait: in a browser it must itself be a worker (the lab's training runs in
 * one), as the page's main thread may not block.
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
export const POSTED = 0; //      calls posted by this thread
export const BLOCKS_DONE = 1; // blocks of the current call the worker has finished
export const READY = 2; //       1 once the worker's instance is up
export const FAILED = 3; //      1 after the worker failed (it then stops)
export const NEXT = 4; //        (call number mod 2^15) · 2^16 + the next block nobody has taken
export const TOTAL = 5; //       blocks the worker has computed since it started
export const ARGS = 6; //        the GemmCall, in its fields' order (16 words; alpha at ARGS+5, beta at ARGS+10)
export const CONTROL_WORDS = ARGS + 16;

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
  startWorker(() => { Atomics.store(control, FAILED, 1); Atomics.notify(control, BLOCKS_DONE); }).postMessage(init);
  return kernels;
}

/** The GemmCall in the control words (both threads: this one writes, the worker reads). */
function writeCall(control: Int32Array, bits: Float32Array, g: GemmCall): void {
  control[ARGS] = g.transA; control[ARGS + 1] = g.transB; control[ARGS + 2] = g.M; control[ARGS + 3] = g.N;
  control[ARGS + 4] = g.K; bits[ARGS + 5] = g.alpha; control[ARGS + 6] = g.A; control[ARGS + 7] = g.lda;
  control[ARGS + 8] = g.B; control[ARGS + 9] = g.ldb; bits[ARGS + 10] = g.beta; control[ARGS + 11] = g.C;
  control[ARGS + 12] = g.ldc; control[ARGS + 13] = g.byColumns; control[ARGS + 14] = g.width; control[ARGS + 15] = g.count;
}

function readCall(control: Int32Array, bits: Float32Array): GemmCall {
  return {
    transA: control[ARGS], transB: control[ARGS + 1], M: control[ARGS + 2], N: control[ARGS + 3], K: control[ARGS + 4],
    alpha: bits[ARGS + 5], A: control[ARGS + 6] >>> 0, lda: control[ARGS + 7], B: control[ARGS + 8] >>> 0, ldb: control[ARGS + 9],
    beta: bits[ARGS + 10], C: control[ARGS + 11] >>> 0, ldc: control[ARGS + 12], byColumns: control[ARGS + 13],
    width: control[ARGS + 14], count: control[ARGS + 15],
  };
}

/**
 * Takes the next block of call `seq` (mod 2^15) with `count` blocks: its index, or −1 when all are taken or
 * the call is no longer the current one (the worker may look once more after this thread has moved on).
 */
function claimBlock(control: Int32Array, seq: number, count: number): number {
  for (;;) {
    const v = Atomics.load(control, NEXT);
    if (v >>> 16 !== seq || (v & 0xffff) >= count) return -1;
    if (Atomics.compareExchange(control, NEXT, v, v + 1) === v) return v & 0xffff;
  }
}

/** This thread's side of the protocol (see the top of this file). */
function gemmThread(control: Int32Array): GemmHelper {
  const bits = new Float32Array(control.buffer);
  let seq = 0, count = 0;
  return {
    ready: () => Atomics.load(control, READY) === 1 && Atomics.load(control, FAILED) === 0,
    failed: () => Atomics.load(control, FAILED) !== 0,
    tasksDone: () => Atomics.load(control, TOTAL),
    post(call) {
      // every block of the call before is done (finish), so nothing of it is still counted or taken
      seq = (Atomics.load(control, POSTED) + 1) & 0x7fff;
      count = call.count;
      writeCall(control, bits, call);
      Atomics.store(control, BLOCKS_DONE, 0);
      Atomics.store(control, NEXT, seq << 16);
      Atomics.add(control, POSTED, 1); // sequentially consistent: the call is visible before it
      Atomics.notify(control, POSTED);
    },
    claim: () => claimBlock(control, seq, count),
    finish(blocksDoneHere) {
      let spins = 0;
      let patience: { expired(): boolean } | null = null;
      for (;;) {
        const theirs = Atomics.load(control, BLOCKS_DONE);
        if (theirs + blocksDoneHere === count) return;
        if (Atomics.load(control, FAILED) !== 0) throw new Error('the WebAssembly GEMM worker thread failed (RLSTM_HELPER=0 runs without it)');
        if (++spins < SPINS) continue;
        patience ??= waitPatience(FINISH_TIMEOUT_MS);
        if (patience.expired()) throw new Error('the WebAssembly GEMM worker thread stopped answering (RLSTM_HELPER=0 runs without it)');
        Atomics.wait(control, BLOCKS_DONE, theirs, 1000);
      }
    },
  };
}

/**
 * The worker's loop (called by wasm-worker-node.ts and wasm-worker-browser.ts with the first message):
 * its own instance on the shared memory, then forever: wait for a call, take its blocks while there are any.
 */
export function serveGemmThread(init: WasmHelperInit): void {
  const { control, work } = init;
  const bits = new Float32Array(control.buffer);
  let k: ReturnType<typeof kernelExports>;
  try {
    k = kernelExports(new WebAssembly.Instance(init.module, kernelImports(init.memory)));
  } catch {
    Atomics.store(control, FAILED, 1);
    return;
  }
  Atomics.store(control, READY, 1);
  let seen = 0;
  for (;;) {
    let spins = 0;
    while (Atomics.load(control, POSTED) === seen) {
      if (++spins >= SPINS) { Atomics.wait(control, POSTED, seen); spins = 0; }
    }
    seen = Atomics.load(control, POSTED);
    const call = readCall(control, bits), seq = seen & 0x7fff;
    try {
      for (let c = claimBlock(control, seq, call.count); c >= 0; c = claimBlock(control, seq, call.count)) {
        gemmBlock(k, call, c, work);
        Atomics.add(control, TOTAL, 1);
        Atomics.add(control, BLOCKS_DONE, 1);
        Atomics.notify(control, BLOCKS_DONE);
      }
    } catch {
      Atomics.store(control, FAILED, 1);
      Atomics.notify(control, BLOCKS_DONE);
      return;
    }
  }
}
