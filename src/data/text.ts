import { UserError } from '../errors.js';

/**
 * The pure text side of the data pipeline (no file system, so it also runs in a browser):
 *
 *   word: every line becomes its whitespace-separated words followed by `<eos>` (the Mikolov PTB convention)
 *   char: every line becomes its Unicode code points (spaces included) followed by `<eos>`
 *
 * The vocabulary is built from the training split (by decreasing count, ties by the token), always holds
 * `<unk>`, and tokens outside it become `<unk>` in every split. Ids are then laid out in B contiguous rows.
 * Reading the split files is `corpus.ts`'s job.
 */

export const EOS = '<eos>';
export const UNK = '<unk>';

export type TokenLevel = 'word' | 'char';

export interface Vocabulary {
  words: string[]; //              id → word (or character)
  ids: Map<string, number>; //     word → id
}

/** The lines of a text; a trailing newline does not start one more (empty) line. */
function textLines(text: string): string[] {
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

/** Splits text into words, one `<eos>` after each line (the Mikolov PTB convention). */
export function tokenizeWords(text: string): string[] {
  const words: string[] = [];
  for (const line of textLines(text)) {
    for (const word of line.trim().split(/\s+/)) if (word.length > 0) words.push(word);
    words.push(EOS);
  }
  return words;
}

/**
 * Splits text into Unicode code points (Array.from, so a character outside the BMP is one token), one
 * `<eos>` after each line; a '\r' ending a line (Windows text) is dropped.
 */
export function tokenizeChars(text: string): string[] {
  const chars: string[] = [];
  for (const line of textLines(text)) {
    const content = line.endsWith('\r') ? line.slice(0, -1) : line;
    for (const char of Array.from(content)) chars.push(char);
    chars.push(EOS);
  }
  return chars;
}

export function tokenize(text: string, level: TokenLevel): string[] {
  return level === 'word' ? tokenizeWords(text) : tokenizeChars(text);
}

/**
 * Calls fn with the tokens of each line in turn (the tokens of `tokenize(text, level)`, line by line), so
 * that a large text is never held as one array of strings: each line's strings are short-lived garbage.
 */
export function forEachLineTokens(text: string, level: TokenLevel, fn: (tokens: string[]) => void): void {
  for (const line of textLines(text)) fn(tokenize(line, level));
}

/** How often each token occurs in a text (the counts `tokenize` would give), line by line. */
export function countTokens(text: string, level: TokenLevel): Map<string, number> {
  const counts = new Map<string, number>();
  forEachLineTokens(text, level, (tokens) => { for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1); });
  return counts;
}

/** The distinct tokens by decreasing count, ties by the token, so ids are reproducible. */
function typesByCount(tokens: string[]): string[] {
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return typesFromCounts(counts);
}

function typesFromCounts(counts: Map<string, number>): string[] {
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return sorted.map(([t]) => t);
}

/** Vocabulary of the training words: by decreasing count, ties by the word, so ids are reproducible. */
export function buildVocabulary(words: string[]): Vocabulary {
  return vocabularyFromWords(typesByCount(words));
}

/**
 * The vocabulary a corpus is encoded with: the training tokens by decreasing count (ties by the token),
 * cut to the vocabSize−1 most frequent when vocabSize is given, and always `<unk>`: at its own place when
 * the training text holds it (PTB does), otherwise last.
 */
export function trainingVocabulary(tokens: string[], vocabSize: number | null): Vocabulary {
  checkVocabSize(vocabSize);
  return vocabularyFromTypes(typesByCount(tokens), vocabSize);
}

/** trainingVocabulary from the token counts of the training text (see countTokens). */
export function trainingVocabularyFromCounts(counts: Map<string, number>, vocabSize: number | null): Vocabulary {
  checkVocabSize(vocabSize);
  return vocabularyFromTypes(typesFromCounts(counts), vocabSize);
}

function checkVocabSize(vocabSize: number | null): void {
  if (vocabSize !== null && !(Number.isInteger(vocabSize) && vocabSize >= 2)) {
    throw new UserError(`--vocab-size ${vocabSize}: must be a whole number of at least 2 (${UNK} and one token)`);
  }
}

function vocabularyFromTypes(types: string[], vocabSize: number | null): Vocabulary {
  const keep = vocabSize === null ? types.length : vocabSize - 1; // tokens other than <unk>
  const words: string[] = [];
  let kept = 0;
  for (const t of types) {
    if (t === UNK) words.push(t);
    else if (kept < keep) { words.push(t); kept++; }
  }
  if (!words.includes(UNK)) words.push(UNK);
  return vocabularyFromWords(words);
}

export function vocabularyFromWords(words: string[]): Vocabulary {
  return { words, ids: new Map(words.map((w, i) => [w, i])) };
}

/** Words → ids; a word outside the vocabulary becomes `<unk>` (an error if there is no `<unk>`). */
export function encodeWords(words: string[], vocab: Vocabulary, source: string): Int32Array {
  const ids = new Int32Array(words.length);
  const unk = vocab.ids.get(UNK);
  for (let k = 0; k < words.length; k++) ids[k] = tokenId(words[k], vocab, unk, source);
  return ids;
}

/** encodeWords(tokenize(text, level), ...), line by line (see forEachLineTokens): the same ids. */
export function encodeText(text: string, level: TokenLevel, vocab: Vocabulary, source: string): Int32Array {
  let ids = new Int32Array(1024), n = 0;
  const unk = vocab.ids.get(UNK);
  forEachLineTokens(text, level, (tokens) => {
    if (n + tokens.length > ids.length) {
      const grown = new Int32Array(Math.max(2 * ids.length, n + tokens.length));
      grown.set(ids.subarray(0, n));
      ids = grown;
    }
    for (const t of tokens) ids[n++] = tokenId(t, vocab, unk, source);
  });
  return ids.slice(0, n);
}

function tokenId(word: string, vocab: Vocabulary, unk: number | undefined, source: string): number {
  const id = vocab.ids.get(word) ?? unk;
  if (id === undefined) {
    throw new UserError(`${source}: the word "${word}" is not in the training vocabulary and there is no ${UNK}; `
      + `add ${UNK} to the training text or use the same vocabulary for every split`);
  }
  return id;
}

/** A token stream cut into B contiguous rows of L = floor(n / B) tokens (the remainder is dropped). */
export interface Batched {
  B: number;
  L: number;
  rows: Int32Array; // (B, L): rows[b·L + j] = stream[b·L + j]
}

export function batchify(stream: Int32Array, B: number, source = 'the split'): Batched {
  const L = Math.floor(stream.length / B);
  if (L < 2) {
    throw new UserError(`--batch-size ${B}: too large for ${source} (${stream.length} tokens gives rows of ${L}); `
      + `use a batch size of at most ${Math.floor(stream.length / 2)}`);
  }
  return { B, L, rows: stream.slice(0, B * L) };
}

/** Number of windows of at most T steps in one pass over the rows (the last one may be shorter). */
export function windowCount(data: Batched, T: number): number {
  return Math.ceil((data.L - 1) / T);
}

/**
 * Window k: inputs rows[:, kT : kT+len] and targets shifted by one, written time-major into
 * tokens/targets (T·B): tokens[t·B + b] = rows[b][kT + t]. Returns len (T, or less for the last window).
 */
export function fillWindow(data: Batched, k: number, T: number, tokens: Int32Array, targets: Int32Array): number {
  const start = k * T;
  const len = Math.min(T, data.L - 1 - start);
  const { B, L, rows } = data;
  for (let t = 0; t < len; t++) {
    for (let b = 0; b < B; b++) {
      tokens[t * B + b] = rows[b * L + start + t];
      targets[t * B + b] = rows[b * L + start + t + 1];
    }
  }
  return len;
}
