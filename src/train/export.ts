import { basename } from 'node:path';
import { UserError } from '../errors.js';
import { decodeHalves } from '../util/float16.js';
import { modelTensors, storedPieces, storeTensor, type Checkpoint, type StoredTensor, type TensorDtype } from './checkpoint.js';
import { modelFromCheckpoint } from './load.js';

/**
 * `rlstm export`: a checkpoint's weights, and the metadata that describes the model, in float32, float16
 * or bfloat16, without the training state (a smaller file to ship; it evaluates and generates like the
 * original, and cannot be resumed).
 */

/** The metadata an export keeps: what the model is and what it was trained on. Everything else is training state. */
export const EXPORTED_METADATA = ['config', 'vocab', 'corpus', 'dataSource', 'scores'] as const;

export const DTYPE_NAMES: Record<TensorDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export interface Export {
  pieces: Uint8Array[]; // the file, as safetensorsPieces gives it
  metadata: Record<string, string>;
  tensors: number;
  weights: number;
  bytesBefore: number; // of tensor data, in the source
  bytesAfter: number;
  largestChange: number; // the largest |exported - original| of any weight
}

/**
 * The export of a decoded checkpoint (`source` names it in messages and in `exportedFrom`) as `dtype`.
 * The model is rebuilt first, so that only a checkpoint that loads is exported; a weight beyond the
 * range of `dtype` is refused, naming its tensor.
 */
export function exportCheckpoint(
  checkpoint: Checkpoint, source: string, dtype: TensorDtype, extra: Record<string, string> = {},
): Export {
  const { model } = modelFromCheckpoint(checkpoint, source);
  const stored: StoredTensor[] = [];
  let largestChange = 0;
  for (const t of modelTensors(model)) {
    const { stored: s, overflowAt } = storeTensor(t, dtype);
    if (overflowAt >= 0) {
      throw new UserError(`--checkpoint ${source}: tensor ${t.name} holds ${t.data[overflowAt]} (element ${overflowAt}), `
        + `beyond ${DTYPE_NAMES[dtype]}'s range (${dtype === 'F16' ? '±65504' : '±3.39e38'}); `
        + `export it as ${dtype === 'F16' ? '--dtype bf16 or f32' : '--dtype f32'}`);
    }
    if (dtype !== 'F32') largestChange = Math.max(largestChange, largestRoundingChange(t.data, s));
    stored.push(s);
  }
  for (const key of Object.keys(extra)) {
    if (RESERVED_METADATA.has(key)) {
      throw new UserError(`--meta ${key}=...: ${key} is written by rlstm itself; choose another key`);
    }
  }
  const metadata = { ...exportMetadata(checkpoint, source, dtype), ...extra };
  const pieces = storedPieces(stored, metadata);
  return {
    pieces, metadata, tensors: stored.length, weights: model.params.length,
    bytesBefore: [...checkpoint.tensors.values()].reduce((s, t) => s + t.data.length * (t.dtype === 'F32' ? 4 : 2), 0),
    bytesAfter: stored.reduce((s, t) => s + t.bytes.length, 0),
    largestChange,
  };
}

function largestRoundingChange(original: Float32Array, stored: StoredTensor): number {
  const back = new Float32Array(original.length);
  decodeHalves(new Uint16Array(stored.bytes.buffer, stored.bytes.byteOffset, original.length), back, stored.dtype as 'F16' | 'BF16');
  let largest = 0;
  for (let k = 0; k < original.length; k++) largest = Math.max(largest, Math.abs(back[k] - original[k]));
  return largest;
}

/** Keys that `--meta` may not set: the ones rlstm reads or writes itself. */
const RESERVED_METADATA = new Set<string>([...EXPORTED_METADATA, 'dtype', 'exportedFrom', 'format', 'sha256',
  'trainingState', 'hiddenState', 'logPath', 'backend', '__proto__']);

/** What a finished (or stopped) run scored, from its training state: the `scores` an export records. */
interface Scores {
  epochs: number;
  validPerplexity: number | null; // after the last completed epoch, training batch size
  testPerplexity: number | null;
  testProtocol: { batchSize: number; bptt: number; tokens: number; complete: boolean } | null;
}

function scoresOf(state: {
  epochs?: { validPerplexity: number }[];
  test?: { perplexity: number; batchSize: number; bptt: number; tokens: number; complete: boolean } | null;
}): Scores {
  const test = state.test ?? null;
  return {
    epochs: state.epochs?.length ?? 0,
    validPerplexity: state.epochs?.at(-1)?.validPerplexity ?? null,
    testPerplexity: test?.perplexity ?? null,
    testProtocol: test ? { batchSize: test.batchSize, bptt: test.bptt, tokens: test.tokens, complete: test.complete } : null,
  };
}

/**
 * The kept metadata (EXPORTED_METADATA; `scores` from the training state when the source has none), `dtype`, and `exportedFrom`: the source's file name and
 * checksum, and where its run stood (step, why it stopped, the test perplexity if scored).
 */
function exportMetadata(checkpoint: Checkpoint, source: string, dtype: TensorDtype): Record<string, string> {
  const from = checkpoint.metadata;
  const kept: Record<string, string> = {};
  for (const key of EXPORTED_METADATA) if (from[key] !== undefined) kept[key] = from[key];
  const origin: Record<string, unknown> = { file: basename(source), sha256: from.sha256 ?? null, dtype: checkpoint.dtype };
  try {
    if (from.trainingState !== undefined) {
      const state = JSON.parse(from.trainingState) as { step?: number; stopReason?: string | null; test?: { perplexity?: number } | null };
      origin.step = state.step ?? null;
      origin.stopReason = state.stopReason ?? null;
      origin.testPerplexity = state.test?.perplexity ?? null;
      kept.scores ??= JSON.stringify(scoresOf(state as Parameters<typeof scoresOf>[0]));
    }
    if (from.exportedFrom !== undefined) origin.exportedFrom = JSON.parse(from.exportedFrom);
  } catch {
    // provenance only: a source whose state does not parse is still exported, with less said about it
  }
  return { ...kept, dtype, exportedFrom: JSON.stringify(origin) };
}
