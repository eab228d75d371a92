import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { fillDropoutMaskPerStep } from './pointwise.js';
import { FAILED, FINISHED, POSTED, READY, failMeetings, meeting, type HelperTask } from './helper.js';
import { loadWasmKernels } from './wasm.js';
import { recurrentKernels } from './blas.js';
import { recurrentBackwardLoop, recurrentForwardLoop, type RecurrentKernels } from './recurrent.js';

/**
 * The helper thread's loop (see helper.ts): sleep until a task is posted, read it from the port, do it,
 * say so. It runs the very functions the caller would have run on these rows, so the results match.
 */

const { control, port } = workerData as { control: Int32Array; port: MessagePort };
const wasm = loadWasmKernels();

const recurrent = new Map<string, RecurrentKernels>(); // by library, each loaded on its first recurrent task

function perform(task: HelperTask): void {
  if (task.kind === 'recurrent') {
    if (!recurrent.has(task.library)) recurrent.set(task.library, recurrentKernels(task.library));
    const loop = task.job.pass === 'forward' ? recurrentForwardLoop : recurrentBackwardLoop;
    const columns = task.columns === null ? null : { ...task.columns, meet: meeting(task.sync, 1) };
    try {
      loop(recurrent.get(task.library)!, task.job, { b0: task.b0, b1: task.b1, columns });
    } catch (err) {
      failMeetings(task.sync); // the caller's thread must not wait for this one at its next meeting
      throw err;
    }
  } else if (task.kind === 'softmax') {
    if (wasm === null) throw new Error('WebAssembly SIMD is missing in the helper thread');
    const { logits, targets, n0, N, V, scale, chunkSums } = task;
    wasm.softmaxCrossEntropy(logits.subarray(n0 * V, N * V), targets.subarray(n0, N), N - n0, V, scale, chunkSums);
  } else {
    const rng = { state: task.state }; // left where the draws end, for the caller
    const fill = wasm?.fillDropoutMask ?? fillDropoutMaskPerStep;
    fill(task.mask.subarray(task.from, task.to), task.to - task.from, task.keep, rng);
  }
}

let done = 0;
Atomics.store(control, READY, 1);
for (;;) {
  Atomics.wait(control, POSTED, done);
  const posted = Atomics.load(control, POSTED);
  try {
    while (done < posted) {
      const received = receiveMessageOnPort(port);
      if (received === undefined) break; // the task's message is on its way: take it on the next turn
      perform(received.message as HelperTask);
      done++;
    }
  } catch (err) {
    port.postMessage((err as Error).message);
    Atomics.store(control, FAILED, 1);
    done = posted;
  }
  Atomics.store(control, FINISHED, done);
  Atomics.notify(control, FINISHED);
}
