import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readCheckpoint, writeFileAtomic, type TensorDtype } from '../train/checkpoint.js';
import { DTYPE_NAMES, exportCheckpoint } from '../train/export.js';
import { checkWritable, DEFAULT_DATA } from './train.js';

const PTB_FILES = ['ptb.train.txt', 'ptb.valid.txt', 'ptb.test.txt'];

/**
 * Whether a recorded data source is a copy of the bundled Penn Treebank (the default of `rlstm train`, recorded
 * as the absolute path of the checkout that trained): an export meant to be shipped then records none, so that
 * `rlstm eval` of it finds the PTB bundled wherever it is installed.
 */
function isBundledPtb(dataSource: string | undefined): boolean {
  if (dataSource === undefined) return false;
  try {
    const { dir } = JSON.parse(dataSource) as { dir?: unknown };
    if (typeof dir !== 'string') return false;
    if (resolve(dir) === resolve(DEFAULT_DATA)) return true;
    return PTB_FILES.every((f) => readFileSync(join(dir, f)).equals(readFileSync(join(DEFAULT_DATA, f))));
  } catch {
    return false; // not there (another machine), or not PTB: kept as it was recorded
  }
}

export interface ExportFlags {
  checkpoint: string;
  dtype: string;
  out?: string;
  meta?: string[];
}

/** `--meta KEY=VALUE` pairs as metadata strings. */
function parseMeta(pairs: string[]): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at) : '';
    if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(key)) {
      throw new UserError(`--meta ${pair}: give KEY=VALUE with a key of letters, digits, '_', '.' or '-', e.g. --meta commit=abc123`);
    }
    meta[key] = pair.slice(at + 1);
  }
  return meta;
}

const DTYPES: Record<string, TensorDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

/** Whether two paths name the same file (through links too); false when either does not exist. */
function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  if (!existsSync(a) || !existsSync(b)) return false;
  const x = statSync(a), y = statSync(b);
  return x.dev === y.dev && x.ino === y.ino;
}

export async function exportCommand(flags: ExportFlags): Promise<void> {
  const extra = parseMeta(flags.meta ?? []);
  const dtype = DTYPES[flags.dtype];
  if (dtype === undefined) throw new UserError(`--dtype ${flags.dtype}: unknown; use f16, bf16 or f32`);
  const out = flags.out ?? flags.checkpoint.replace(/(\.safetensors)?$/, `.${flags.dtype}.safetensors`);
  if (sameFile(out, flags.checkpoint)) {
    throw new UserError(`--out ${out}: the same file as --checkpoint; an export holds no training state, `
      + 'so writing it there would lose the run\'s; choose another --out');
  }
  if (existsSync(out) && statSync(out).isDirectory()) throw new UserError(`--out ${out}: a folder, not a file; name the file to write`);
  checkWritable('--out', out);
  const checkpoint = readCheckpoint(flags.checkpoint);
  if (isBundledPtb(checkpoint.metadata.dataSource)) delete checkpoint.metadata.dataSource;
  const result = exportCheckpoint(checkpoint, flags.checkpoint, dtype, extra);
  writeFileAtomic(out, result.pieces); // an existing file at --out is replaced whole, or not at all
  const fileBefore = statSync(flags.checkpoint).size;
  const fileAfter = result.pieces.reduce((s, p) => s + p.length, 0);
  const n = (x: number): string => x.toLocaleString('en-US');
  console.log(`exported ${flags.checkpoint} as ${DTYPE_NAMES[dtype]} to ${out}: ${result.tensors} tensors, `
    + `${n(result.weights)} weights, ${n(result.bytesBefore)} -> ${n(result.bytesAfter)} bytes of weights `
    + `(file ${n(fileBefore)} -> ${n(fileAfter)} bytes, training state dropped)`
    + (dtype === 'F32' ? '' : `; largest rounding change of a weight ${result.largestChange.toExponential(2)}`));
}
