import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, fstatSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { UserError, WriteError } from '../errors.js';
import type { Model, TensorSpec } from '../model/params.js';

/**
 * Checkpoints in the safetensors format (float32, little-endian): 8 bytes of header length, a JSON header
 * naming every tensor with its dtype, shape and byte range, then the raw data. Tensor names are PyTorch's
 * (see model/params.ts), so `torch.nn.Module.load_state_dict(safetensors.torch.load_file(path))` works.
 * String metadata: `config` (every hyperparameter, JSON), `vocab` (JSON list of words in id order),
 * `format`, training state for resuming (see trainer.ts), and `sha256` of the tensor bytes and the other
 * metadata (to detect corruption or truncation).
 */

export interface Checkpoint {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
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
 * Serializes named float32 tensors and string metadata as the pieces of a safetensors file: the length
 * and header first, then every tensor's bytes, which are views of the tensors themselves (no copy: a
 * checkpoint of the large model would otherwise need twice its 264 MB while it is written).
 */
export function safetensorsPieces(
  tensors: { name: string; shape: number[]; data: Float32Array }[], metadata: Record<string, string>,
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  const body: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4); // little-endian wherever Node runs
    body.push(bytes);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
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

/** The same as one array of bytes. */
export function encodeSafetensors(
  tensors: { name: string; shape: number[]; data: Float32Array }[], metadata: Record<string, string>,
): Uint8Array {
  const pieces = safetensorsPieces(tensors, metadata);
  const out = new Uint8Array(pieces.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of pieces) { out.set(p, at); at += p.length; }
  return out;
}

/** Parses safetensors bytes; every problem is a UserError naming `source`. */
export function decodeSafetensors(bytes: Uint8Array, source: string): Checkpoint {
  const bad = (why: string): UserError =>
    new UserError(`${source}: ${why}; pass a checkpoint written by 'rlstm train --save'`);
  if (bytes.length < 8) throw bad('not a safetensors file (too short)');
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (headerLength <= 1 || 8 + headerLength > bytes.length) throw bad('not a safetensors file (bad header length)');
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
  } catch {
    throw bad('not a safetensors file (the header is not JSON)');
  }
  const body = bytes.subarray(8 + headerLength);
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  if (metadata.sha256 !== undefined) {
    const { sha256, ...rest } = metadata;
    if (checksum(body, rest) !== sha256) throw bad('the file is corrupted or truncated (checksum mismatch)');
  }
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: range } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32') throw bad(`tensor ${name} has dtype ${dtype}, only F32 is supported`);
    const count = shape.reduce((p, d) => p * d, 1);
    if (!range || range[1] - range[0] !== count * 4 || range[1] > body.length) throw bad(`tensor ${name} is truncated`);
    const at = body.byteOffset + range[0];
    if (at % 4 === 0) { // a view of the file's bytes (our files align every tensor), else a copy
      tensors.set(name, { shape, data: new Float32Array(body.buffer, at, count) });
      continue;
    }
    const copy = new Uint8Array(count * 4);
    copy.set(body.subarray(range[0], range[1]));
    tensors.set(name, { shape, data: new Float32Array(copy.buffer) });
  }
  return { tensors, metadata };
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

export function readCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readIntoSharedMemory(path);
  } catch (err) {
    throw new UserError(`--checkpoint ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); `
      + 'check the path');
  }
  return decodeSafetensors(bytes, path);
}

/**
 * The file's bytes in shared memory where there is any (Node): the parameters a resumed run trains in place
 * are views of these bytes, and the BLAS backend's helper thread reads the recurrent weights there.
 */
function readIntoSharedMemory(path: string): Uint8Array {
  if (typeof SharedArrayBuffer !== 'function') return readFileSync(path);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = new Uint8Array(new SharedArrayBuffer(size));
    for (let at = 0; at < size;) {
      const n = readSync(fd, bytes, at, size - at, at);
      if (n === 0) throw Object.assign(new Error('the file shrank while it was read'), { code: 'ESHORT' });
      at += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/**
 * A checkpoint's parameters in the flat layout `tensors` describes (a model's); names and shapes must
 * match exactly. When the file holds them in that order, back to back (every checkpoint rlstm writes), this
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
