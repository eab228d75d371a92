import { UserError } from '../errors.js';
import type { TensorSpec } from '../model/params.js';
import { decodeHalves } from '../util/float16.js';

/**
 * Checkpoints in the safetensors format (little-endian): 8 bytes of header length, a JSON header naming
 * every tensor with its dtype, shape and byte range, then the raw data. Training writes float32;
 * `rlstm export` also writes float16 or bfloat16, which every reader decodes to float32. Tensor names are
 * PyTorch's (see model/params.ts), so `torch.nn.Module.load_state_dict(safetensors.torch.load_file(path))`
 * works. String metadata: `config` (every hyperparameter, JSON), `vocab` (JSON list of words in id order),
 * `format`, training state for resuming (see trainer.ts), and `sha256` of the tensor bytes and the other
 * metadata (to detect corruption or truncation).
 *
 * This file is the format itself, with no Node import: the walkthrough's model explorer parses checkpoints
 * with it in a browser. checkpoint.ts reads and writes the files (and hashes with node:crypto).
 */

/** The tensor formats rlstm reads and writes (safetensors' names). */
export type TensorDtype = 'F32' | 'F16' | 'BF16';

export const TENSOR_DTYPES: readonly TensorDtype[] = ['F32', 'F16', 'BF16'];

export const DTYPE_BYTES: Record<TensorDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface CheckpointTensor {
  shape: number[];
  data: Float32Array; // the values in float32, whatever the file stored
  dtype: TensorDtype; // what the file stored
}

export interface Checkpoint {
  tensors: Map<string, CheckpointTensor>;
  metadata: Record<string, string>;
  /** What the file's tensors are stored as; 'mixed' when they differ (files from elsewhere), F32 when there are none. */
  dtype: TensorDtype | 'mixed';
}

/** A tensor as a file stores it: its bytes in its dtype. */
export interface StoredTensor {
  name: string;
  shape: number[];
  dtype: TensorDtype;
  bytes: Uint8Array;
}

export const CHECKPOINT_FORMAT = 'regularized-lstm/1';

/** A SHA-256 being fed: node:crypto's createHash('sha256') in Node, util/sha256.ts in a browser. Strings are hashed as UTF-8. */
export interface Sha256 {
  update(data: Uint8Array | string): unknown;
  digest(encoding: 'hex'): string;
}

/** SHA-256 over the tensor bytes (the data section, or its pieces in order) and the metadata (keys sorted), hex. */
export function checksumWith(hash: Sha256, body: Uint8Array | Uint8Array[], metadata: Record<string, string>): string {
  for (const piece of Array.isArray(body) ? body : [body]) hash.update(piece);
  for (const key of Object.keys(metadata).sort()) hash.update(`\0${key}\0${metadata[key]}`);
  return hash.digest('hex');
}

/** Safetensors' limit on the header, which the official reader applies too. */
export const MAX_HEADER_BYTES = 100_000_000;

export type Refusal = (why: string) => UserError;

/** The fix a refused checkpoint's message ends with, unless the reader names another (rlstm import does). */
export const CHECKPOINT_FIX = "pass a checkpoint written by 'rlstm train' or 'rlstm export'";

export function refusal(source: string, fix: string = CHECKPOINT_FIX): Refusal {
  return (why) => new UserError(`${source}: ${why}; ${fix}`);
}

/**
 * The header length in a file's first 8 bytes (a little-endian u64), checked against the file's size
 * before anything else is read or allocated. A BigInt until checked: 8 + length may exceed 2^53.
 */
export function headerLengthOf(prefix: Uint8Array, fileSize: number, bad: Refusal): number {
  if (fileSize < 8) throw bad(`not a safetensors file (${fileSize} bytes, too short to hold a header length)`);
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) throw bad(`not a safetensors file (its header length ${length} is over the 100 MB limit)`);
  if (length > BigInt(fileSize - 8)) {
    throw bad(`not a safetensors file, or truncated (its header length ${length} exceeds the ${fileSize - 8} bytes after it)`);
  }
  if (length < 2n) throw bad(`not a safetensors file (its header length ${length} is too small)`);
  return Number(length);
}

/** A name or value as it appears in a message: itself if plain, else JSON-quoted (one line, whatever it holds), shortened. */
export function shown(value: unknown): string {
  const text = typeof value === 'string' && /^[\w.\-:/]+$/.test(value) ? value : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses safetensors bytes; every problem is a one-line UserError naming `source`. Checks, in order: the
 * header length against the size, the header (UTF-8, a JSON object, string metadata), every tensor
 * (a known dtype, a shape of non-negative integers, byte offsets inside the data whose span fits the
 * shape), that the tensors tile the data exactly (no overlap, no stray bytes), then the checksum, which
 * a file in our format must carry. F32 tensors are views of `bytes` where aligned (ours always are);
 * F16 and BF16 tensors are decoded to float32, all into one buffer, in file order. `sha256` makes the hash
 * the checksum is computed with; `fix` ends every refusal's message.
 */
export function parseSafetensors(bytes: Uint8Array, source: string, sha256: () => Sha256, fix: string = CHECKPOINT_FIX): Checkpoint {
  const bad = refusal(source, fix);
  const headerLength = headerLengthOf(bytes, bytes.length, bad);
  let header: unknown;
  try {
    header = JSON.parse(utf8.decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    throw bad(`not a safetensors file (the header is not ${err instanceof SyntaxError ? 'valid JSON' : 'UTF-8'})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw bad('not a safetensors file (the header is not a JSON object)');
  }
  const entries = header as Record<string, unknown>;
  const metadata = metadataOf(entries.__metadata__, bad);
  const body = bytes.subarray(8 + headerLength);

  const layout: { name: string; dtype: TensorDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(entries)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: range } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof dtype !== 'string' || !TENSOR_DTYPES.includes(dtype as TensorDtype)) {
      throw bad(`tensor ${shown(name)} has dtype ${shown(dtype)}; rlstm reads F32, F16 and BF16`);
    }
    if (!Array.isArray(shape) || !shape.every(isIndex)) throw bad(`tensor ${shown(name)}: shape ${shown(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(range) || range.length !== 2 || !isIndex(range[0]) || !isIndex(range[1]) || range[0] > range[1]) {
      throw bad(`tensor ${shown(name)}: data_offsets ${shown(range)} is not a pair of integers begin <= end`);
    }
    const [begin, end] = range as [number, number];
    if (end > body.length) {
      throw bad(`tensor ${shown(name)}: data_offsets [${begin}, ${end}] lie outside the ${body.length} bytes of data (the file is truncated or damaged)`);
    }
    const size = shape.reduce((p: bigint, d: number) => p * BigInt(d), BigInt(DTYPE_BYTES[dtype as TensorDtype]));
    if (size !== BigInt(end - begin)) {
      throw bad(`tensor ${shown(name)}: shape [${shape.join(', ')}] of ${dtype} takes ${size} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    layout.push({ name, dtype: dtype as TensorDtype, shape: shape as number[], begin, end });
  }
  // the tensors must tile the data: sorted by offset, each begins where the one before ended
  const sorted = [...layout].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last = '';
  for (const t of sorted) {
    if (t.begin < covered) throw bad(`tensors ${shown(last)} and ${shown(t.name)} overlap (bytes ${t.begin}..${covered} of the data)`);
    if (t.begin > covered) throw bad(`bytes ${covered}..${t.begin} of the data belong to no tensor`);
    if (t.end > t.begin) { covered = t.end; last = t.name; }
  }
  if (covered < body.length) throw bad(`bytes ${covered}..${body.length} of the data belong to no tensor`);

  if (metadata.sha256 !== undefined) {
    const { sha256: sha256Recorded, ...rest } = metadata;
    if (checksumWith(sha256(), body, rest) !== sha256Recorded) throw bad('the file is corrupted or truncated (checksum mismatch)');
  } else if (metadata.format === CHECKPOINT_FORMAT) {
    throw bad(`the file is damaged (its sha256 checksum is missing, which every ${CHECKPOINT_FORMAT} file has)`);
  }

  // float16 and bfloat16 tensors decode into one buffer, in file order: back to back when the file is
  // (every export), so that flatParameters can view them without another copy
  const halves = sorted.filter((t) => t.dtype !== 'F32');
  const decoded = new Float32Array(halves.reduce((s, t) => s + (t.end - t.begin) / 2, 0));
  let decodedAt = 0;
  const tensors = new Map<string, CheckpointTensor>();
  for (const t of sorted) {
    const count = (t.end - t.begin) / DTYPE_BYTES[t.dtype];
    const at = body.byteOffset + t.begin;
    let data: Float32Array;
    if (t.dtype !== 'F32') {
      data = decoded.subarray(decodedAt, decodedAt + count);
      decodedAt += count;
      const stored = at % 2 === 0 ? new Uint16Array(body.buffer, at, count) : new Uint16Array(copyOf(body, t.begin, t.end));
      decodeHalves(stored, data, t.dtype);
    } else if (at % 4 === 0) {
      data = new Float32Array(body.buffer, at, count); // a view of the file's bytes (our files align every tensor)
    } else {
      data = new Float32Array(copyOf(body, t.begin, t.end));
    }
    tensors.set(t.name, { shape: t.shape, data, dtype: t.dtype });
  }
  // the header's order, which is the model's for our files
  const inHeaderOrder = new Map(layout.map((t) => [t.name, tensors.get(t.name)!]));
  const dtypes = new Set(layout.map((t) => t.dtype));
  return { tensors: inHeaderOrder, metadata, dtype: dtypes.size > 1 ? 'mixed' : [...dtypes][0] ?? 'F32' };
}

/** A copy of bytes begin..end in a buffer of their own (a Buffer's slice would be a view). */
function copyOf(bytes: Uint8Array, begin: number, end: number): ArrayBuffer {
  const copy = new Uint8Array(end - begin);
  copy.set(bytes.subarray(begin, end));
  return copy.buffer;
}

/** The header's __metadata__: absent, or an object whose every value is a string. */
function metadataOf(value: unknown, bad: Refusal): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('the header\'s __metadata__ is not an object of strings');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(`the header's __metadata__ entry ${shown(key)} is not a string`);
  }
  return value as Record<string, string>;
}


/**
 * A checkpoint's parameters in the flat layout `tensors` describes (a model's); names and shapes must
 * match exactly, with no tensor missing or extra. When the file holds them in that order, back to back (every checkpoint rlstm writes), this
 * is a view of the file's bytes, with no copy: resuming the large model then needs no second 264 MB.
 * Otherwise a copy.
 */
export function flatParameters(checkpoint: Checkpoint, tensors: TensorSpec[], source: string): Float32Array {
  let first: Float32Array | null = null;
  let inPlace = true;
  for (const t of tensors) {
    const entry = checkpoint.tensors.get(t.name);
    if (!entry || entry.shape.join('x') !== t.shape.join('x')) {
      throw new UserError(`${source}: tensor ${t.name} is ${entry ? `shaped ${entry.shape.join('x')}` : 'missing'}, `
        + `the model needs ${t.shape.join('x')}; the checkpoint does not match this configuration`);
    }
    first ??= entry.data;
    if (entry.data.buffer !== first.buffer || entry.data.byteOffset !== first.byteOffset + 4 * t.offset) inPlace = false;
  }
  if (checkpoint.tensors.size > tensors.length) {
    const names = new Set(tensors.map((t) => t.name));
    const extra = [...checkpoint.tensors.keys()].find((name) => !names.has(name))!;
    throw new UserError(`${source}: tensor ${shown(extra)} is not part of the model its config describes; `
      + 'the checkpoint does not match this configuration');
  }
  const total = tensors.reduce((s, t) => s + t.size, 0);
  if (first !== null && inPlace) return new Float32Array(first.buffer, first.byteOffset, total);
  const params = new Float32Array(total);
  for (const t of tensors) params.set(checkpoint.tensors.get(t.name)!.data, t.offset);
  return params;
}
