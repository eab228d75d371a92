import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { UserError, WriteError } from '../errors.js';
import type { Model, TensorSpec } from '../model/params.js';
import { decodeHalves, encodeHalves } from '../util/float16.js';

/**
 * Checkpoints in the safetensors format (little-endian): 8 bytes of header length, a JSON header naming
 * every tensor with its dtype, shape and byte range, then the raw data. Training writes float32;
 * `rlstm export` also writes float16 or bfloat16, which every reader decodes to float32. Tensor names are
 * PyTorch's (see model/params.ts), so `torch.nn.Module.load_state_dict(safetensors.torch.load_file(path))`
 * works. String metadata: `config` (every hyperparameter, JSON), `vocab` (JSON list of words in id order),
 * `format`, training state for resuming (see trainer.ts), and `sha256` of the tensor bytes and the other
 * metadata (to detect corruption or truncation).
 */

/** The tensor formats rlstm reads and writes (safetensors' names). */
export type TensorDtype = 'F32' | 'F16' | 'BF16';

export const TENSOR_DTYPES: readonly TensorDtype[] = ['F32', 'F16', 'BF16'];

const DTYPE_BYTES: Record<TensorDtype, number> = { F32: 4, F16: 2, BF16: 2 };

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

/** The errors a write can meet, in words, and what to do about each (WriteError's reason and hint). */
const WRITE_FAILURES: Record<string, [string, string]> = {
  ENOSPC: ['no space left on the device', 'free some space, or write it elsewhere'],
  EDQUOT: ['disk quota exceeded', 'free some space, or write it elsewhere'],
  EFBIG: ['the file is too large for this file system', 'write it elsewhere'],
  EROFS: ['the file system is read-only', 'write it elsewhere'],
  EIO: ['input/output error: the disk may be failing', 'write it elsewhere'],
  EACCES: ['permission denied', 'write it elsewhere'],
  EPERM: ['operation not permitted', 'write it elsewhere'],
  ENOENT: ['the folder does not exist', 'create it, or write elsewhere'],
  ENOTDIR: ['a part of the path is not a folder', 'write elsewhere'],
  EISDIR: ['a folder of that name is in the way', 'remove it, or write elsewhere'],
  ENOTEMPTY: ['a folder of that name is in the way', 'remove it, or write elsewhere'],
};

/**
 * Test hook, read only here: RLSTM_FAIL_WRITES=CODE:TEXT[:SKIP] makes every write of a path containing
 * TEXT fail with the error CODE (ENOSPC, EIO, ...) after its first piece, once the first SKIP such writes
 * (default 0) have succeeded: a disk that fills up, seen from this process.
 */
let injectedWritesSeen = 0;
function injectedWriteFailure(path: string): Error | null {
  const spec = /^([A-Z]+):(.*?)(?::(\d+))?$/.exec(process.env.RLSTM_FAIL_WRITES ?? '');
  if (spec === null || !path.includes(spec[2])) return null;
  if (injectedWritesSeen++ < Number(spec[3] ?? 0)) return null;
  return Object.assign(new Error(`${spec[1]}: injected by RLSTM_FAIL_WRITES`), { code: spec[1] });
}

/**
 * Writes `path` atomically: the bytes (or the pieces, one after the other) go to a temporary file that is
 * flushed, then renamed over `path`. Any failure (open, write, flush, close, rename) removes the
 * temporary file, leaves `path` as it was, and throws a WriteError naming the file and the error.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string | Uint8Array[]): void {
  const tmp = `${path}.tmp`; // a fixed name: a save after a crash replaces the stale one
  const injected = injectedWriteFailure(path);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    const pieces = typeof bytes === 'string' ? [Buffer.from(bytes, 'utf8')] : Array.isArray(bytes) ? bytes : [bytes];
    for (const piece of pieces) {
      let written = 0;
      while (written < piece.length) written += writeSync(fd, piece, written, piece.length - written);
      if (injected !== null) throw injected; // after a first piece: the temporary file is there, partly written
    }
    fsyncSync(fd);
    const open = fd;
    fd = null;
    closeSync(open); // can fail too (EIO, or a network file system's deferred ENOSPC)
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== null) try { closeSync(fd); } catch { /* the write error is the one to report */ }
    try { unlinkSync(tmp); } catch { /* never created, or already gone */ }
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw err; // not a file-system error: a bug, shown as one
    const [reason, hint] = WRITE_FAILURES[code] ?? [(err as Error).message.replace(/^[A-Z]+: /, ''), 'write it elsewhere'];
    throw new WriteError(`${path}: cannot write (${code}: ${reason}); ${hint}`, path, `${code}: ${reason}`, hint);
  }
}

/** SHA-256 over the tensor bytes (the data section, or its pieces in order) and the metadata (keys sorted), hex. */
function checksum(body: Uint8Array | Uint8Array[], metadata: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const piece of Array.isArray(body) ? body : [body]) hash.update(piece);
  for (const key of Object.keys(metadata).sort()) hash.update(`\0${key}\0${metadata[key]}`);
  return hash.digest('hex');
}

/**
 * Serializes stored tensors (their bytes in their own format) and string metadata as the pieces of a
 * safetensors file: the length and header first, then every tensor's bytes, as given (no copy).
 */
export function storedPieces(tensors: StoredTensor[], metadata: Record<string, string>): Uint8Array[] {
  const header: Record<string, unknown> = {};
  const body: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    body.push(t.bytes);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const full = { ...metadata, format: CHECKPOINT_FORMAT };
  header.__metadata__ = { ...full, sha256: checksum(body, full) };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // the data starts 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const start = new Uint8Array(8 + headerBytes.length);
  new DataView(start.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  start.set(headerBytes, 8);
  return [start, ...body];
}

/**
 * Named float32 tensors and string metadata as the pieces of a safetensors file; every tensor's bytes
 * are a view of the tensor itself (no copy: a checkpoint of the large model would otherwise need twice
 * its 264 MB while it is written).
 */
export function safetensorsPieces(
  tensors: { name: string; shape: number[]; data: Float32Array }[], metadata: Record<string, string>,
): Uint8Array[] {
  return storedPieces(tensors.map((t) => ({
    name: t.name, shape: t.shape, dtype: 'F32' as const,
    bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4), // little-endian wherever Node runs
  })), metadata);
}

/** The same as one array of bytes. */
export function encodeSafetensors(
  tensors: { name: string; shape: number[]; data: Float32Array }[], metadata: Record<string, string>,
): Uint8Array {
  return concatenate(safetensorsPieces(tensors, metadata));
}

function concatenate(pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of pieces) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * A float32 tensor stored as `dtype`: float16 and bfloat16 rounded to nearest, ties to even. `overflowAt`
 * is the index of the first finite value that became infinite (float16 ends at ±65504), or -1.
 */
export function storeTensor(
  t: { name: string; shape: number[]; data: Float32Array }, dtype: TensorDtype,
): { stored: StoredTensor; overflowAt: number } {
  if (dtype === 'F32') {
    return { stored: { name: t.name, shape: t.shape, dtype, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4) }, overflowAt: -1 };
  }
  const halves = new Uint16Array(t.data.length);
  const overflowAt = encodeHalves(t.data, halves, dtype);
  return { stored: { name: t.name, shape: t.shape, dtype, bytes: new Uint8Array(halves.buffer) }, overflowAt };
}

/** Safetensors' limit on the header, which the official reader applies too. */
export const MAX_HEADER_BYTES = 100_000_000;

type Refusal = (why: string) => UserError;

/** The fix a refused checkpoint's message ends with, unless the reader names another (rlstm import does). */
export const CHECKPOINT_FIX = "pass a checkpoint written by 'rlstm train' or 'rlstm export'";

function refusal(source: string, fix: string): Refusal {
  return (why) => new UserError(`${source}: ${why}; ${fix}`);
}

/**
 * The header length in a file's first 8 bytes (a little-endian u64), checked against the file's size
 * before anything else is read or allocated. A BigInt until checked: 8 + length may exceed 2^53.
 */
function headerLengthOf(prefix: Uint8Array, fileSize: number, bad: Refusal): number {
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
function shown(value: unknown): string {
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
 * F16 and BF16 tensors are decoded to float32, all into one buffer, in file order.
 */
export function decodeSafetensors(bytes: Uint8Array, source: string, fix = CHECKPOINT_FIX): Checkpoint {
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
    const { sha256, ...rest } = metadata;
    if (checksum(body, rest) !== sha256) throw bad('the file is corrupted or truncated (checksum mismatch)');
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

/** The model's tensors as safetensors entries (views into the flat parameter buffer). */
export function modelTensors(model: Model): { name: string; shape: number[]; data: Float32Array }[] {
  return model.tensors.map((t: TensorSpec) => ({
    name: t.name, shape: t.shape, data: model.params.subarray(t.offset, t.offset + t.size),
  }));
}

export function saveCheckpoint(path: string, model: Model, metadata: Record<string, string>): void {
  writeFileAtomic(path, safetensorsPieces(modelTensors(model), metadata));
}

/**
 * Reads and decodes a checkpoint file. The header length is checked against the file's size before the
 * file is read: a damaged or foreign file is refused without reading it all. The bytes land in shared
 * memory (Node): the parameters a resumed run trains in place are views of them, and the BLAS backend's
 * helper thread reads the recurrent weights there. `flag` (the option that named the file) and `fix` go
 * into the messages of a file that cannot be read or is refused.
 */
export function readCheckpoint(path: string, flag = '--checkpoint', fix = CHECKPOINT_FIX): Checkpoint {
  const cannotRead = (err: unknown): UserError => new UserError(
    `${flag} ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw cannotRead(err);
  }
  try {
    let bytes: Uint8Array;
    try {
      const size = fstatSync(fd).size;
      const prefix = new Uint8Array(8);
      readFully(fd, prefix, Math.min(8, size));
      headerLengthOf(prefix, size, refusal(path, fix));
      bytes = new Uint8Array(typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
      readFully(fd, bytes, size);
    } catch (err) {
      throw err instanceof UserError ? err : cannotRead(err);
    }
    return decodeSafetensors(bytes, path, fix);
  } finally {
    closeSync(fd);
  }
}

/** Reads the first `size` bytes of the file into `bytes`. */
function readFully(fd: number, bytes: Uint8Array, size: number): void {
  for (let at = 0; at < size;) {
    const n = readSync(fd, bytes, at, size - at, at);
    if (n === 0) throw Object.assign(new Error('the file shrank while it was read'), { code: 'ESHORT' });
    at += n;
  }
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

/** Copies a checkpoint's tensors into the model's flat buffer; names and shapes must match exactly. */
export function loadParametersInto(model: Model, checkpoint: Checkpoint, source: string): void {
  model.params.set(flatParameters(checkpoint, model.tensors, source));
}
