import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { UserError, WriteError } from '../errors.js';
import type { Model, TensorSpec } from '../model/params.js';
import { encodeHalves } from '../util/float16.js';
import {
  CHECKPOINT_FORMAT, checksumWith, CHECKPOINT_FIX, flatParameters, headerLengthOf, parseSafetensors, refusal, type Checkpoint, type StoredTensor,
  type TensorDtype,
} from './safetensors.js';

/**
 * Reading and writing checkpoint files (safetensors; the format and its parser are in safetensors.ts,
 * which has no Node import, so that a browser can parse a checkpoint too).
 */

export {
  CHECKPOINT_FIX, CHECKPOINT_FORMAT, flatParameters, MAX_HEADER_BYTES, TENSOR_DTYPES, type Checkpoint, type CheckpointTensor, type StoredTensor,
  type TensorDtype,
} from './safetensors.js';

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
  return checksumWith(createHash('sha256'), body, metadata);
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

/** Parses safetensors bytes (see parseSafetensors); `source` names them in messages. */
export function decodeSafetensors(bytes: Uint8Array, source: string, fix = CHECKPOINT_FIX): Checkpoint {
  return parseSafetensors(bytes, source, () => createHash('sha256'), fix);
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
 * helper thread reads the recurrent weights there.
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


/** Copies a checkpoint's tensors into the model's flat buffer; names and shapes must match exactly. */
export function loadParametersInto(model: Model, checkpoint: Checkpoint, source: string): void {
  model.params.set(flatParameters(checkpoint, model.tensors, source));
}
