import { UserError } from '../errors.js';

/**
 * The pure text side of the data pipeline (no file system, so it also runs in a browser):
 *
 *   word: every line becomes its whitespace-separated words followed by `<eos>` (the Mikolov PTB convention)
 *   char: every line becomes its Unicode code points (spaces included) followed by `<eos>`
 *
 * Text from anywhere: a line ends at "\n", at "\r\n" (Windows) and at a lone "\r" (classic Mac OS), as in
 * Python's universal newlines, so a line end is one `<eos>` and never a '\r' token; a byte-order mark
 * (U+FEFF) at the start of the text is not a token. A line may be as long as memory allows: tokens are
 * scanned one at a time (scanTokens), never split out of the whole line or spread into arguments.
 *
 * The literal tokens: at the word level, a word `<unk>` in the text is the unknown token (PTB writes its rare
 * words so), and a word `<eos>` is an end of sentence, the same id as a line end. At the character level
 * they are just their five characters each.
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

const BOM = 0xfeff;
const LF = 0x0a;
const CR = 0x0d;

/** Whether the text's last line has its line end ("\n" or "\r"): otherwise it still gets an `<eos>`. */
function endsWithLineEnd(text: string): boolean {
  const last = text.charCodeAt(text.length - 1);
  return last === LF || last === CR;
}

/** A run of non-whitespace (a word), or a line end; the whitespace between is skipped. */
const WORD_OR_LINE_END = /[^\s]+|\r\n?|\n/g;

/**
 * Calls emit with each token of the text in order, `<eos>` at each line end and after a last line that has
 * none (see above for what a line end is). Words are found by one regular expression moving along the text,
 * characters by iterating its code points (so a character outside the BMP is one token): nothing the size
 * of a line is ever built.
 */
export function scanTokens(text: string, level: TokenLevel, emit: (token: string) => void): void {
  const start = text.charCodeAt(0) === BOM ? 1 : 0;
  if (level === 'word') {
    const pattern = new RegExp(WORD_OR_LINE_END);
    pattern.lastIndex = start;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      const first = m[0].charCodeAt(0);
      emit(first === LF || first === CR ? EOS : m[0]);
    }
  } else {
    let afterCR = false;
    for (const char of start === 0 ? text : text.slice(start)) {
      if (char === '\n') { if (!afterCR) emit(EOS); } // "\r\n": one line end, emitted at the "\r"
      else if (char === '\r') emit(EOS);
      else emit(char);
      afterCR = char === '\r';
    }
  }
  if (!endsWithLineEnd(text)) emit(EOS);
}

/** Splits text into words, one `<eos>` after each line (the Mikolov PTB convention). */
export function tokenizeWords(text: string): string[] {
  const words: string[] = [];
  scanTokens(text, 'word', (word) => { words.push(word); });
  return words;
}

/**
 * Splits text into Unicode code points (a character outside the BMP is one token), one `<eos>` after each
 * line; "\r\n" and a lone "\r" end a line as "\n" does.
 */
export function tokenizeChars(text: string): string[] {
  const chars: string[] = [];
  scanTokens(text, 'char', (char) => { chars.push(char); });
  return chars;
}

export function tokenize(text: string, level: TokenLevel): string[] {
  return level === 'word' ? tokenizeWords(text) : tokenizeChars(text);
}

/** How often each token occurs in a text (the counts `tokenize` would give), token by token (scanTokens). */
export function countTokens(text: string, level: TokenLevel): Map<string, number> {
  const counts = new Map<string, number>();
  scanTokens(text, level, (t) => { counts.set(t, (counts.get(t) ?? 0) + 1); });
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

/**
 * encodeWords(tokenize(text, level), ...), token by token (scanTokens): the same ids, without the text ever
 * held as an array of strings (PTB's would take ~100 MB of heap).
 */
export function encodeText(text: string, level: TokenLevel, vocab: Vocabulary, source: string): Int32Array {
  let ids = new Int32Array(1024), n = 0;
  const unk = vocab.ids.get(UNK);
  scanTokens(text, level, (t) => {
    if (n === ids.length) {
      const grown = new Int32Array(2 * ids.length);
      grown.set(ids);
      ids = grown;
    }
    ids[n++] = tokenId(t, vocab, unk, source);
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
  checkBatchSize(stream.length, B, source);
  const L = Math.floor(stream.length / B);
  return { B, L, rows: stream.slice(0, B * L) };
}

/** A UserError unless `length` tokens make B rows of at least two tokens (one to read, one to predict). */
export function checkBatchSize(length: number, B: number, source = 'the split'): void {
  const L = Math.floor(length / B);
  if (L < 2) {
    throw new UserError(`--batch-size ${B}: too large for ${source} (${length} tokens gives rows of ${L}); `
      + `use a batch size of at most ${Math.floor(length / 2)}`);
  }
}

/**
 * The batch size a validation or test split of `length` tokens is scored with when B is asked for: B when
 * its rows hold at least two tokens (one to read, one to predict), else the largest batch whose rows do,
 * floor(length / 2). Training refuses such a B instead (batchify): the batch shapes the run itself. A
 * score with fewer rows is still a perplexity of the whole split (minus the remainder batchify drops), and
 * the callers say which batch it used (shortSplitNote); the paper's PTB splits never need it.
 */
export function fittingBatchSize(length: number, B: number): number {
  return length < 2 || Math.floor(length / B) >= 2 ? B : Math.floor(length / 2);
}

/** The note printed when fittingBatchSize gave a smaller batch than the `flag` asked for. */
export function shortSplitNote(source: string, length: number, flag: string, B: number, fitted: number): string {
  return `note: ${source} has ${length} tokens, too few for ${flag} ${B} (rows of at least 2 tokens); `
    + `it is scored with batch ${fitted}, the largest that fits`;
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
