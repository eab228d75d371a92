import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TokenLevel } from '../data/text.js';
import { UserError } from '../errors.js';
import { readCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { importStateDict, parseVocabularyFile } from '../train/import.js';
import { parseFlag } from './options.js';
import { checkWritable } from './train.js';

export interface ImportFlags {
  stateDict: string;
  vocab: string;
  out: string;
  level: string;
  batchSize?: string;
  bptt?: string;
}

/** What a refused state_dict's message ends with when the file itself is not readable safetensors. */
const SAVE_FIX = 'save it with safetensors.torch.save_file(model.float().state_dict(), FILE) (float32, float16 or bfloat16)';

/** The evaluation defaults an imported model records: PyTorch's word-language-model example trains with these. */
const DEFAULT_BATCH_SIZE = 20;
const DEFAULT_BPTT = 35;

/** SHA-256 of a file, read a piece at a time (a state_dict may be hundreds of MB, already held once). */
function fileSha256(path: string): string {
  const hash = createHash('sha256');
  const piece = new Uint8Array(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, piece); n > 0; n = readSync(fd, piece)) hash.update(piece.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The bytes of an input file, or a one-line error naming its flag. */
function readInput(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : `cannot read it (${code})`;
    throw new UserError(`${flag} ${path}: ${why}; check the path`);
  }
}

export async function importCommand(flags: ImportFlags): Promise<void> {
  if (flags.level !== 'word' && flags.level !== 'char') throw new UserError(`--level ${flags.level}: unknown; use word or char`);
  const level: TokenLevel = flags.level;
  const batchSize = flags.batchSize === undefined ? DEFAULT_BATCH_SIZE : parseFlag('--batch-size', flags.batchSize);
  const bptt = flags.bptt === undefined ? DEFAULT_BPTT : parseFlag('--bptt', flags.bptt);
  for (const [flag, input] of [['--state-dict', flags.stateDict], ['--vocab', flags.vocab]] as const) {
    if (resolve(input) === resolve(flags.out)) throw new UserError(`--out ${flags.out}: the same file as ${flag}; choose another --out`);
  }
  if (existsSync(flags.out) && statSync(flags.out).isDirectory()) throw new UserError(`--out ${flags.out}: a folder, not a file; name the file to write`);
  checkWritable('--out', flags.out);

  const vocabBytes = readInput('--vocab', flags.vocab);
  const words = parseVocabularyFile(vocabBytes, flags.vocab, level);
  const vocabSha256 = createHash('sha256').update(vocabBytes).digest('hex');
  const checkpoint = readCheckpoint(flags.stateDict, '--state-dict', SAVE_FIX);
  const stateDictSha256 = fileSha256(flags.stateDict);
  const imported = importStateDict(checkpoint, words, { stateDict: flags.stateDict, stateDictSha256, vocab: flags.vocab, vocabSha256 },
    { level, batchSize, bptt });
  saveCheckpoint(flags.out, imported.model, imported.metadata); // atomic: a failed write leaves --out as it was
  for (const note of imported.notes) console.error(`note: ${note}`);
  const { vocabSize: V, hidden: H, layers: L } = imported.model.config;
  console.log(`imported ${flags.stateDict} (${checkpoint.dtype === 'mixed' ? 'mixed dtypes' : checkpoint.dtype}) with ${flags.vocab} `
    + `to ${flags.out}: ${L} layer${L === 1 ? '' : 's'}, hidden ${H}, vocabulary ${V}, `
    + `${imported.model.params.length.toLocaleString('en-US')} weights in float32`);
}
