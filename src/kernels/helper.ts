import os from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { RecurrentJob } from './recurrent.js';
import { switchedOn } from './env.js';
import { waitPatience } from './patience.js';

/**
 * A second thread for the work of a training step that BLAS's own threads do not spread over the cores
 * (Node only).
 *
 * The batched matrix products keep both cores busy through BLAS's threads, but softmax + cross-entropy and
 * the dropout masks run between them on one thread while the other core waits, and the LSTM layers'
 * recurrent loop alternates small products with the cell's elementwise work. The helper takes half of
 * such a loop (for the recurrent loop: half of the batch's sequences, through every step): the caller posts a task, does its own half, then waits for the helper's (`finish`). Tasks
 * work on buffers in shared memory (SharedArrayBuffer, see `sharedFloat32`), which the helper sees
 * without a copy. Each half runs the same code as the single-threaded loop on its rows or elements, so
 * the results are bit for bit those of one thread (see blas.ts).
 *
 * The protocol: a task is a message on a MessagePort that the helper reads synchronously
 * (receiveMessageOnPort) after the caller bumps `posted` and wakes it with Atomics.notify; when done it
 * sets `finished` and wakes the caller. Neither thread runs an event loop while it waits.
 */

export type HelperTask =
  | {
    /** softmaxCrossEntropy on rows [n0, N) of logits (N, V), writing each chunk's summed NLL to chunkSums. */
    kind: 'softmax'; logits: Float32Array; targets: Int32Array; n0: number; N: number; V: number; scale: number;
    chunkSums: Float64Array;
  }
  | {
    /** fillDropoutMaskPerStep over mask[from, to) from the generator state `state`; the final state to `state`. */
    kind: 'mask'; mask: Float32Array; from: number; to: number; keep: number; state: Uint32Array;
  }
  | {
    /**
     * The helper's share of an LSTM layer's recurrent loop (job.pass; RecurrentShare in recurrent.ts, without
     * its `meet`, which the helper makes from `sync`: see `meeting`), the products in `library` (BLIS).
     */
    kind: 'recurrent'; job: RecurrentJob; b0: number; b1: number; columns: { n0: number; n1: number } | null;
    sync: Int32Array; library: string;
  };

// slots of the control words
const POSTED = 0; //   tasks posted by the caller
const FINISHED = 1; // tasks the helper has finished
const READY = 2; //    1 once the helper is up, waiting for tasks
const FAILED = 3; //   1 after a task threw (its message follows on the port)

export interface Helper {
  /** True once the helper thread is up (it starts in the background, in a few tens of milliseconds). */
  ready(): boolean;
  /** Hands a task to the helper. Every run must be followed by finish() before the next. */
  run(task: HelperTask): void;
  /** Waits until the helper has finished the task last run; throws if it failed. */
  finish(): void;
  /** Tasks finished since the helper started (for tests: did a loop really use it?). */
  tasksDone(): number;
}

/** How long finish() waits before deciding that the helper is stuck (a task takes milliseconds). */
const FINISH_TIMEOUT_MS = 60_000;


let shared: Helper | null | undefined;

/**
 * The process's helper thread, started on first use; null where there is no second core to give it, or
 * where RLSTM_HELPER=0 asks to run everything on one thread.
 */
export function elementwiseHelper(): Helper | null {
  if (shared !== undefined) return shared;
  shared = null;
  if (!switchedOn('RLSTM_HELPER') || os.availableParallelism() < 2) return null;
  try {
    shared = startHelper();
  } catch {
    shared = null; // no worker threads here: one thread does everything, with the same results
  }
  return shared;
}

function startHelper(): Helper {
  const control = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./helper-worker.js', import.meta.url), {
    workerData: { control, port: port2 },
    transferList: [port2],
    resourceLimits: { maxOldGenerationSizeMb: 64 }, // it allocates almost nothing: the data are shared
    execArgv: [], // not the process's flags: under `node -e …` the worker would run that script instead
  });
  worker.unref(); // a process whose work is done exits even though its helper still waits for tasks
  port1.unref();
  worker.on('error', () => { Atomics.store(control, FAILED, 1); });
  return {
    ready: () => Atomics.load(control, READY) === 1 && Atomics.load(control, FAILED) === 0,
    tasksDone: () => Atomics.load(control, FINISHED),
    run(task) {
      port1.postMessage(task);
      Atomics.add(control, POSTED, 1);
      Atomics.notify(control, POSTED);
    },
    finish() {
      const posted = Atomics.load(control, POSTED);
      const patience = waitPatience(FINISH_TIMEOUT_MS);
      for (;;) {
        const finished = Atomics.load(control, FINISHED);
        if (finished === posted) break;
        if (Atomics.load(control, FAILED) === 1) {
          const why = receiveMessageOnPort(port1 as MessagePort)?.message as string | undefined;
          throw new Error(`the elementwise helper thread failed: ${why ?? 'it stopped'} (RLSTM_HELPER=0 runs without it)`);
        }
        if (patience.expired()) {
          throw new Error('the elementwise helper thread stopped answering (RLSTM_HELPER=0 runs without it)');
        }
        Atomics.wait(control, FINISHED, finished, 1000);
      }
    },
  };
}

/**
 * How two threads running a recurrent loop in lockstep wait for each other (RecurrentShare.columns.meet).
 * `sync` is shared: slots 0 and 1 count the meetings each thread has reached, slot 2 is set when either
 * thread fails, so that the other stops waiting and fails too instead of hanging. `newMeetings` clears it
 * before a loop; `meeting(sync, me)` is thread `me`'s meet: it says it has arrived, then waits until the
 * other thread has arrived as often. The threads do the same work between meetings, so the wait is short:
 * it spins first (a sleep and wake-up would cost tens of microseconds), then sleeps in slices.
 */
export function newMeetings(sync: Int32Array): void {
  Atomics.store(sync, 0, 0); Atomics.store(sync, 1, 0); Atomics.store(sync, MEETING_FAILED, 0);
}

const MEETING_FAILED = 2;
const MEETING_SPINS = 20_000; // ≈ 50–100 µs of checking before sleeping

/** What a meeting throws when the other thread has failed (its own error says why). */
export class MeetingFailed extends Error {
  constructor() { super('the other thread of the recurrent loop failed'); }
}

export function meeting(sync: Int32Array, me: 0 | 1): () => void {
  const other = 1 - me;
  let count = 0;
  return () => {
    count++;
    Atomics.store(sync, me, count);
    Atomics.notify(sync, me);
    let spins = 0;
    let patience: { expired(): boolean } | null = null;
    for (;;) {
      const seen = Atomics.load(sync, other);
      if (seen >= count) return;
      if (Atomics.load(sync, MEETING_FAILED) !== 0) throw new MeetingFailed();
      if (++spins < MEETING_SPINS) continue;
      patience ??= waitPatience(FINISH_TIMEOUT_MS);
      if (patience.expired()) {
        failMeetings(sync);
        throw new Error('the other thread of the recurrent loop stopped answering (RLSTM_HELPER=0 runs without it)');
      }
      Atomics.wait(sync, other, seen, 10);
    }
  };
}

/** Tells the other thread of a lockstep loop that this one failed (its meet then throws). */
export function failMeetings(sync: Int32Array): void {
  Atomics.store(sync, MEETING_FAILED, 1);
  Atomics.notify(sync, 0);
  Atomics.notify(sync, 1);
}

/** A Float32Array in shared memory, which the helper can work on; a plain one where SharedArrayBuffer is missing. */
export function sharedFloat32(n: number): Float32Array {
  return typeof SharedArrayBuffer === 'function'
    ? new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT)) : new Float32Array(n);
}

export function sharedInt32(n: number): Int32Array {
  return typeof SharedArrayBuffer === 'function'
    ? new Int32Array(new SharedArrayBuffer(n * Int32Array.BYTES_PER_ELEMENT)) : new Int32Array(n);
}

/** True when every array lives in shared memory, so that the helper can take part of a loop over them. */
export function allShared(...arrays: ArrayBufferView[]): boolean {
  return arrays.every((a) => a.buffer instanceof SharedArrayBuffer);
}

export { POSTED, FINISHED, READY, FAILED };
