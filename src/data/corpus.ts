import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { countTokens, encodeText, trainingVocabularyFromCounts, type TokenLevel, type Vocabulary } from './text.js';

export * from './text.js';

/**
 * Corpus reading (docs/method.md, "Loss, data and schedule"): any UTF-8 text, cut into tokens at one of two levels:
 *
 *   word: every line becomes its whitespace-separated words followed by `<eos>` (the Mikolov PTB convention)
 *   char: every line becomes its Unicode code points (spaces included) followed by `<eos>`
 *
 * The vocabulary is built from the training split (by decreasing count, ties by the token), always holds
 * `<unk>`, and tokens outside it become `<unk>` in every split. Ids are then laid out in B contiguous rows.
 * The pure text functions (tokenizing, vocabulary, batchify, windows) live in `text.ts`, re-exported here.
 */

export interface Corpus {
  level: TokenLevel;
  vocab: Vocabulary;
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
  /** Where the splits came from, for logs and error messages. */
  files: { train: string; valid: string; test: string };
}

/** A data folder (ptb.{train,valid,test}.txt or {train,valid,test}.txt), or three explicit files. */
export type CorpusSource = { dir: string } | { train: string; valid: string; test: string };

export interface CorpusOptions {
  level: TokenLevel;
  /** Keep the vocabSize−1 most frequent training tokens plus `<unk>`; null keeps every training token. */
  vocabSize: number | null;
  /** A vocabulary to use as is (a checkpoint's); the training split then does not build one. */
  vocab?: Vocabulary;
}

type Split = 'train' | 'valid' | 'test';
const SPLITS: readonly Split[] = ['train', 'valid', 'test'];
const SPLIT_NAMES: Record<Split, string> = { train: 'training', valid: 'validation', test: 'test' };

/** The three split files of a data folder: PTB's names (ptb.train.txt ...) or train.txt/valid.txt/test.txt. */
export function findSplitFiles(dir: string): { train: string; valid: string; test: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`--data ${dir}: no such folder; point --data at a folder holding ptb.train.txt, ptb.valid.txt `
      + 'and ptb.test.txt (or train.txt, valid.txt, test.txt)');
  }
  const pick = (split: string): string => {
    for (const name of [`ptb.${split}.txt`, `${split}.txt`]) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
    throw new UserError(`--data ${dir}: no ${split} split found; add ptb.${split}.txt or ${split}.txt to the folder`);
  };
  return { train: pick('train'), valid: pick('valid'), test: pick('test') };
}

/**
 * The text of one split, checked: readable, UTF-8 (no NUL bytes, no invalid sequences) and not blank.
 * `flag` is the option that chose the file (--data, or --train/--valid/--test), named in the fix.
 */
function readSplitText(path: string, split: Split, flag: string): string {
  const what = `${path} (the ${SPLIT_NAMES[split]} split)`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : `cannot read it (${code})`;
    throw new UserError(`${what}: ${why}; point ${flag} at a readable text file`);
  }
  if (bytes.includes(0)) {
    throw new UserError(`${what}: not a text file (it holds NUL bytes); point ${flag} at a UTF-8 text file`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${what}: not valid UTF-8; convert it (for example iconv -t UTF-8) or point ${flag} at a UTF-8 text file`);
  }
  if (text.trim().length === 0) {
    throw new UserError(`${what}: ${text.length === 0 ? 'empty' : 'only whitespace'}; give it some text or point ${flag} at another file`);
  }
  return text;
}

/** The split files of a source, and the flag that named each (for error messages). */
function sourceFiles(source: CorpusSource): { files: Corpus['files']; flags: Record<Split, string> } {
  if ('dir' in source) return { files: findSplitFiles(source.dir), flags: { train: '--data', valid: '--data', test: '--data' } };
  return {
    files: { train: source.train, valid: source.valid, test: source.test },
    flags: { train: '--train', valid: '--valid', test: '--test' },
  };
}

/**
 * Reads a corpus from a folder or three files at the word or character level. With `options.vocab`
 * given (a checkpoint's), every split is encoded with it; otherwise the vocabulary is built from the
 * training split, cut to `options.vocabSize`.
 */
export function loadCorpusFrom(source: CorpusSource, options: CorpusOptions): Corpus {
  const { files, flags } = sourceFiles(source);
  const texts = {} as Record<Split, string>;
  // readSplitText refuses blank text, so every split has at least one token and its <eos>: one to read,
  // one to predict (a split too short for the batch size is batchify's error, which names --batch-size)
  for (const split of SPLITS) texts[split] = readSplitText(files[split], split, flags[split]);
  // counted and encoded line by line: the splits never exist as arrays of strings (PTB's would take
  // ~100 MB of heap, which the process keeps as resident memory through training)
  const vocab = options.vocab ?? trainingVocabularyFromCounts(countTokens(texts.train, options.level), options.vocabSize);
  return {
    level: options.level,
    vocab,
    train: encodeText(texts.train, options.level, vocab, files.train),
    valid: encodeText(texts.valid, options.level, vocab, files.valid),
    test: encodeText(texts.test, options.level, vocab, files.test),
    files,
  };
}

/**
 * Reads a corpus folder at the word level with every training word in the vocabulary (PTB: exactly its
 * 10,000 types). With `vocab` given (a checkpoint's), splits are encoded with it.
 */
export function loadCorpus(dir: string, vocab?: Vocabulary): Corpus {
  return loadCorpusFrom({ dir }, { level: 'word', vocabSize: null, vocab });
}

/**
 * A SHA-256 (hex) of what training sees: the level, the vocabulary in id order and the three id streams,
 * so a resumed run can check it continues on the same corpus (wherever its files now lie).
 */
export function corpusFingerprint(corpus: Corpus): string {
  const hash = createHash('sha256');
  hash.update(`level ${corpus.level}\n`);
  hash.update(`vocab ${JSON.stringify(corpus.vocab.words)}\n`);
  for (const split of SPLITS) {
    const ids = corpus[split];
    hash.update(`${split} ${ids.length}\n`);
    hash.update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)); // the platform's byte order (little-endian in practice)
  }
  return hash.digest('hex');
}
