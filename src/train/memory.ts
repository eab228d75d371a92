import { statSync } from 'node:fs';
import { freemem } from 'node:os';
import { UserError } from '../errors.js';
import type { DropoutPlacement } from '../model/lm.js';
import { tensorLayout, type ArchitectureConfig } from '../model/params.js';

/**
 * What a run will allocate, estimated before it allocates anything, from the same sizes the allocations
 * use (model/params.ts, model/lm.ts createWorkspace, nn/lstm.ts createLstmActivations, the trainer and
 * evaluate.ts): a run that cannot fit is refused with one line instead of being killed by the kernel,
 * or failing with a stack trace, minutes later. Only the bytes a run touches count: the embedding
 * table's part of the flat gradient buffer is allocated but never written (its gradient lives in the
 * row gradient), so the kernel never gives it memory.
 */

export interface MemoryPart {
  what: string; //   'parameters', 'gradients', ...
  bytes: number;
  lower: string; //  the flags that make it smaller
}

export interface MemoryEstimate {
  parts: MemoryPart[];
  bytes: number; // their sum
  /** The longest single typed array, in elements: V8 allows at most MAX_ARRAY_ELEMENTS. */
  longestArray: { what: string; elements: number; lower: string };
}

/** The longest typed array V8 (Node 20) allows, in elements: `new Float32Array(2 ** 32 + 1)` throws. */
export const MAX_ARRAY_ELEMENTS = 2 ** 32;

/** Floats in the flat parameter buffer (and in the gradient buffer). */
export function parameterCount(arch: ArchitectureConfig): number {
  return tensorLayout(arch).reduce((s, t) => s + t.size, 0);
}

/** Bytes of one LSTM layer's activations, as createLstmActivations allocates them. */
export function lstmActivationBytes(T: number, B: number, H: number, layerNorm: boolean, recurrentMask: boolean): number {
  const N = T * B, ln = layerNorm ? 1 : 0;
  const floats = N * 4 * H //                   gates (dz is the same memory)
    + (N + B) * H //                             states: h0, then h_0 … h_{T-1}
    + 2 * N * H //                               c, tanhC
    + B * H //                                   c0
    + (recurrentMask ? N * H : 0) //             hPrev, a buffer of its own only for the ablations
    + ln * (3 * N * 4 * H + 2 * N * H + 3 * N) // ihHat, hhHat, dzHh; cHat, cNorm; ihRstd, hhRstd, cRstd
    + B * 4 * H + 4 * B * H; //                  hhScratch; dh, dhNext, dcNext, dcAct
  return 4 * floats;
}

/** Bytes of a workspace for windows of T steps over B sequences, as createWorkspace allocates it. */
export function workspaceBytes(arch: ArchitectureConfig, T: number, B: number, placement: DropoutPlacement): number {
  const { hidden: H, layers: L, vocabSize: V, layerNorm } = arch;
  const N = T * B;
  const vertical = placement !== 'none';
  const horizontal = placement === 'recurrent' || placement === 'variational';
  const floats = N * H //                         embedded (also site 0's output)
    + (vertical ? (L + 1) * N * H + L * N * H : 0) // the site masks; the outputs of sites 1..L
    + (horizontal ? L * N * H : 0) //              the masks on h_{t-1}
    + N * V //                                     logits
    + 2 * N * H; //                                dx, dxBelow
  return 4 * floats + 4 * 2 * N //                 tokens, targets (Int32)
    + L * lstmActivationBytes(T, B, H, layerNorm, horizontal);
}

/** Rows the embedding's row gradient grows to: from 64 by doubling, until it holds a batch's distinct tokens. */
function rowGradientRows(distinct: number): number {
  let rows = 64;
  while (rows < distinct) rows *= 2;
  return rows;
}

export interface TrainingShape {
  bptt: number; batchSize: number; placement: DropoutPlacement;
  testBatchSize: number; testBptt: number; patience: number;
}

/**
 * The memory a training run allocates on top of what the process already holds (the runtime and the
 * corpus): parameters, gradients, the training workspace, the evaluation of test (validation reuses the
 * training workspace), the best weights under early stopping, and the copies of the token streams the
 * batching makes. `parametersLoaded`: the parameters are a checkpoint's bytes, already read (a resume).
 */
export function estimateTrainingBytes(
  arch: ArchitectureConfig, run: TrainingShape, tokens: { train: number; valid: number; test: number },
  parametersLoaded = false,
): MemoryEstimate {
  const { hidden: H, vocabSize: V } = arch;
  const P = parameterCount(arch);
  const N = run.bptt * run.batchSize;
  const rowGradient = 4 * (2 * V + rowGradientRows(Math.min(N, V)) * H); // slotOf, list; the rows
  const testReusesWorkspace = run.testBatchSize === run.batchSize && run.testBptt <= run.bptt;
  const modelFlags = '--hidden, --layers or --vocab-size';
  const parts: MemoryPart[] = [
    { what: 'parameters', bytes: parametersLoaded ? 0 : 4 * P, lower: modelFlags },
    { what: 'gradients', bytes: 4 * (P - V * H) + rowGradient, lower: modelFlags },
    { what: 'workspace', bytes: workspaceBytes(arch, run.bptt, run.batchSize, run.placement), lower: '--batch-size, --bptt or --hidden' },
    {
      what: 'evaluation', bytes: testReusesWorkspace ? 0 : workspaceBytes(arch, run.testBptt, run.testBatchSize, 'none'),
      lower: '--test-batch-size or --test-bptt',
    },
    { what: 'best weights (early stopping)', bytes: run.patience > 0 ? 4 * P : 0, lower: '--patience 0, --hidden or --vocab-size' },
    { what: 'batched data', bytes: 4 * (tokens.train + Math.max(tokens.valid, tokens.test)), lower: 'use a smaller corpus' },
  ].filter((p) => p.bytes > 0);
  const longest = [
    { what: 'the parameters', elements: P, lower: modelFlags },
    { what: 'the logits', elements: N * V, lower: '--batch-size, --bptt or --vocab-size' },
    { what: 'the gates', elements: N * 4 * H, lower: '--batch-size, --bptt or --hidden' },
  ].reduce((a, b) => (b.elements > a.elements ? b : a));
  return { parts, bytes: parts.reduce((s, p) => s + p.bytes, 0), longestArray: longest };
}

/**
 * Loading a checkpoint of `fileBytes` (eval, generate, plot --weights, report): its bytes as read, and the
 * model's copy of the parameters, about as large (the file is the parameters and a small header).
 */
export function estimateCheckpointLoadBytes(fileBytes: number): MemoryEstimate {
  const parts: MemoryPart[] = [
    { what: 'the file', bytes: fileBytes, lower: 'free some memory, or use a machine with more' },
    { what: 'parameters', bytes: fileBytes, lower: 'free some memory, or use a machine with more' },
  ];
  return {
    parts, bytes: 2 * fileBytes,
    longestArray: { what: 'the parameters', elements: fileBytes / 4, lower: 'free some memory, or use a machine with more' },
  };
}

/** Evaluating a loaded model over windows of T steps and B sequences: the workspace (createWorkspace, no dropout). */
export function estimateEvaluationBytes(arch: ArchitectureConfig, B: number, T: number): MemoryEstimate {
  const lower = '--batch-size or --bptt';
  return {
    parts: [{ what: 'workspace', bytes: workspaceBytes(arch, T, B, 'none'), lower }],
    bytes: workspaceBytes(arch, T, B, 'none'),
    longestArray: { what: 'the logits', elements: T * B * arch.vocabSize, lower },
  };
}

/**
 * Memory this process may still take: RLSTM_MEMORY_LIMIT_MB when set (to test the refusal, or to keep a
 * run within a share of a machine), else what the kernel reports available (MemAvailable), lowered to
 * what a container's memory limit leaves (process.availableMemory does both, Node ≥ 20.13).
 */
export function availableMemory(): { bytes: number; source: string } {
  const limit = process.env.RLSTM_MEMORY_LIMIT_MB;
  if (limit !== undefined && limit.trim() !== '' && Number.isFinite(Number(limit))) {
    return { bytes: Number(limit) * 2 ** 20, source: 'RLSTM_MEMORY_LIMIT_MB' };
  }
  const available = (process as { availableMemory?: () => number }).availableMemory;
  return { bytes: typeof available === 'function' ? available.call(process) : freemem(), source: 'available on this machine' };
}

/** Bytes as people read them: 1.2 GB, 340 MB, 12 KB (powers of 1,000). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let k = 0;
  while (bytes >= 1000 && k < units.length - 1) { bytes /= 1000; k++; }
  return `${bytes >= 100 || k === 0 ? Math.round(bytes) : bytes.toPrecision(2)} ${units[k]}`;
}

/** 'lower --hidden, ...' for flags; advice that is not a flag as it is. */
const lowerOr = (advice: string): string => (advice.startsWith('--') ? `lower ${advice}` : advice);

/**
 * Refuses (UserError, one line) a run whose estimate exceeds the memory available, or whose longest
 * array V8 cannot make; names the estimate and its parts, what is available, and the flags to lower
 * (those of the largest part). `what`: 'this run', '--checkpoint FILE', ...
 */
export function checkMemory(estimate: MemoryEstimate, what: string): void {
  const largest = estimate.parts.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const available = availableMemory();
  if (estimate.bytes > available.bytes) {
    const parts = estimate.parts.map((p) => `${p.what} ${formatBytes(p.bytes)}`).join(', ');
    throw new UserError(`${what} needs about ${formatBytes(estimate.bytes)} of memory (${parts}), `
      + `and ${formatBytes(available.bytes)} is ${available.source === 'RLSTM_MEMORY_LIMIT_MB' ? 'allowed (RLSTM_MEMORY_LIMIT_MB)' : 'available'}; `
      + `${lowerOr(largest.lower)}`);
  }
  const { longestArray } = estimate;
  if (longestArray.elements > MAX_ARRAY_ELEMENTS) {
    throw new UserError(`${what}: ${longestArray.what} would be one array of ${longestArray.elements.toExponential(2)} numbers, `
      + `more than JavaScript allows (${MAX_ARRAY_ELEMENTS.toLocaleString('en')}); ${lowerOr(longestArray.lower)}`);
  }
}

/** Refuses a checkpoint too large to load; a file that cannot be read is left to readCheckpoint to explain. */
export function checkCheckpointFits(path: string): void {
  let size: number;
  try { size = statSync(path).size; } catch { return; }
  checkMemory(estimateCheckpointLoadBytes(size), `--checkpoint ${path}`);
}
