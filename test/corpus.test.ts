import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  corpusFingerprint, EOS, loadCorpusFrom, tokenizeChars, tokenizeWords, UNK, type Corpus, type CorpusOptions,
} from '../src/data/corpus.js';
import { UserError } from '../src/errors.js';
import { formatTokens, promptTokens } from '../src/model/generate.js';
import { tempDir } from './helpers.js';

const WORDS: CorpusOptions = { level: 'word', vocabSize: null };
const CHARS: CorpusOptions = { level: 'char', vocabSize: null };

/** Writes the three splits as train.txt, valid.txt, test.txt (strings, or raw bytes) into a new folder. */
function corpusDir(train: string | Uint8Array, valid: string | Uint8Array = 'a b\n', test: string | Uint8Array = 'a b\n'): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'train.txt'), train);
  writeFileSync(join(dir, 'valid.txt'), valid);
  writeFileSync(join(dir, 'test.txt'), test);
  return dir;
}

const decode = (corpus: Corpus, ids: Int32Array): string[] => Array.from(ids, (id) => corpus.vocab.words[id]);

test('char level: tokens are code points of any script, <eos> at line ends, formatTokens round-trips', () => {
  const text = 'héllo wörld 😀\nКиев 東京\n';
  const corpus = loadCorpusFrom({ dir: corpusDir(text, 'wörld\n', 'Киев\n') }, CHARS);
  assert.equal(corpus.level, 'char');
  const tokens = decode(corpus, corpus.train);
  assert.deepEqual(tokens, [...'héllo wörld 😀', EOS, ...'Киев 東京', EOS]);
  assert.ok(tokens.includes('😀'), 'a character outside the BMP is one token, not two surrogates');
  assert.ok(tokens.includes(' '), 'spaces are tokens');
  assert.equal(formatTokens(tokens, 'char'), text);
  assert.deepEqual(decode(corpus, corpus.valid), [...'wörld', EOS]);
  // every type of the training text, then <unk> (absent from the text) last
  assert.equal(corpus.vocab.words.length, new Set(tokens).size + 1);
  assert.equal(corpus.vocab.words.at(-1), UNK);
  // a character never seen in training becomes <unk>
  const other = loadCorpusFrom({ dir: corpusDir(text, 'héllo!\n') }, CHARS);
  assert.deepEqual(decode(other, other.valid), [...'héllo', UNK, EOS]);
});

test('line ends: \\n, \\r\\n (Windows) and a lone \\r (classic Mac OS) each end a line, at both levels; never a \\r token', () => {
  assert.deepEqual(tokenizeChars('ab\r\nc'), ['a', 'b', EOS, 'c', EOS]);
  assert.deepEqual(tokenizeChars('a b\n'), ['a', ' ', 'b', EOS]);
  assert.deepEqual(tokenizeChars('ab\rc\r\n\r\nd\n\re'), ['a', 'b', EOS, 'c', EOS, EOS, 'd', EOS, EOS, 'e', EOS]);
  assert.deepEqual(tokenizeWords('a b\r\nc\rd \r\n\r\ne\n\rf'), ['a', 'b', EOS, 'c', EOS, 'd', EOS, EOS, 'e', EOS, EOS, 'f', EOS]);
  assert.deepEqual(promptTokens('a b\r', 'word'), ['a', 'b', EOS], 'a prompt ending in a line end keeps its <eos>');
  assert.deepEqual(promptTokens('a b', 'word'), ['a', 'b']);
  // a corpus written with Windows or classic Mac OS line ends is the same corpus as with \n
  const unix = ['the cat sat\non the mat\n', 'the cat\n\nsat\n', 'the mat\n'];
  for (const [name, end] of [['Windows', '\r\n'], ['classic Mac OS', '\r']]) {
    const [train, valid, test] = unix.map((text) => text.replace(/\n/g, end));
    for (const options of [WORDS, CHARS]) {
      const expected = loadCorpusFrom({ dir: corpusDir(unix[0], unix[1], unix[2]) }, options);
      const other = loadCorpusFrom({ dir: corpusDir(train, valid, test) }, options);
      assert.deepEqual(other.vocab.words, expected.vocab.words, `${name}, ${options.level} level: no '\\r' token`);
      assert.equal(corpusFingerprint(other), corpusFingerprint(expected), `${name}, ${options.level} level`);
    }
  }
});

test('a byte-order mark at the start of a file or text is not a token, at both levels', () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const text = 'the cat sat\non the mat\n';
  for (const options of [WORDS, CHARS]) {
    const plain = loadCorpusFrom({ dir: corpusDir(text, 'the cat\n', 'a mat\n') }, options);
    const marked = loadCorpusFrom({ dir: corpusDir(Buffer.concat([bom, Buffer.from(text)]), Buffer.concat([bom, Buffer.from('the cat\n')]),
      Buffer.concat([bom, Buffer.from('a mat\n')])) }, options);
    assert.deepEqual(marked.vocab.words, plain.vocab.words, `${options.level} level`);
    assert.equal(corpusFingerprint(marked), corpusFingerprint(plain), `${options.level} level`);
  }
  // the text functions (which also run in the browser, on text not decoded by readSplitText) skip it too
  assert.deepEqual(tokenizeChars('\ufeffab\n'), ['a', 'b', EOS]);
  assert.deepEqual(tokenizeWords('\ufeffab c\n'), ['ab', 'c', EOS]);
  // a file holding only the mark is empty
  const onlyMark = corpusDir('a b\n', bom);
  assert.throws(() => loadCorpusFrom({ dir: onlyMark }, CHARS), (err: unknown) =>
    err instanceof UserError && err.message === `${join(onlyMark, 'valid.txt')} (the validation split): empty; give it some text or point --data at another file`);
});

test('literal <eos> and <unk> in a text: at the word level the end of a sentence and the unknown token; at the char level characters', () => {
  const text = `a ${EOS} b\nc ${UNK} d\n`;
  const words = loadCorpusFrom({ dir: corpusDir(text, `zz ${EOS}\n`, `${UNK}\n`) }, WORDS);
  assert.deepEqual(decode(words, words.train), ['a', EOS, 'b', EOS, 'c', UNK, 'd', EOS]);
  const eos = words.vocab.ids.get(EOS)!;
  assert.equal(words.train[1], eos, 'a literal <eos> has the id of a line end');
  assert.equal(words.train[3], eos);
  assert.equal(words.vocab.words.filter((w) => w === UNK).length, 1, 'one <unk>, counted where the text has it');
  assert.deepEqual(decode(words, words.valid), [UNK, EOS, EOS], 'an unknown word and a literal <unk> are the same token');
  assert.deepEqual(decode(words, words.test), [UNK, EOS]);
  const chars = loadCorpusFrom({ dir: corpusDir(text) }, CHARS);
  assert.deepEqual(decode(chars, chars.train), [...`a ${EOS} b`, EOS, ...`c ${UNK} d`, EOS]);
  assert.equal(chars.train.filter((id) => id === chars.vocab.ids.get(EOS)).length, 2, 'only the two line ends are <eos>');
});

test('one line of two million words (and one of two million characters) reads without overflowing the stack', () => {
  const line = 'the cat sat on the mat of old '.repeat(250_000); // 2,000,000 words, one line, no newline at the end
  const words = loadCorpusFrom({ dir: corpusDir(line, 'the cat\n', 'a mat') }, WORDS);
  assert.equal(words.train.length, 2_000_001, 'the words and one <eos>');
  assert.deepEqual(words.vocab.words, ['the', 'cat', 'mat', 'of', 'old', 'on', 'sat', EOS, UNK]);
  assert.deepEqual(decode(words, words.train.subarray(1_999_998)), ['of', 'old', EOS]);
  const chars = loadCorpusFrom({ dir: corpusDir('ab😀 '.repeat(500_000), 'ab\n', 'ba\n') }, CHARS);
  assert.equal(chars.train.length, 2_000_001);
  assert.deepEqual(decode(chars, chars.train.subarray(1_999_997)), ['b', '😀', ' ', EOS]);
});

test('word level: formatTokens joins words by single spaces and <eos> by line breaks', () => {
  assert.equal(formatTokens(['the', 'cat', EOS, 'sat', 'down', EOS], 'word'), 'the cat\nsat down\n');
  assert.equal(formatTokens([EOS, 'a', EOS, EOS, 'b'], 'word'), '\na\n\nb');
});

test('--vocab-size K keeps the K−1 most frequent training tokens plus <unk>; the rest become <unk>', () => {
  // counts: a 3, b 2, then <eos>, c, d once each (ties by the token: '<' sorts before letters)
  const dir = corpusDir('a a a b b c d\n', 'c a z\n', 'b d\n');
  assert.deepEqual(loadCorpusFrom({ dir }, WORDS).vocab.words, ['a', 'b', EOS, 'c', 'd', UNK]);
  const cut = loadCorpusFrom({ dir }, { level: 'word', vocabSize: 4 });
  assert.deepEqual(cut.vocab.words, ['a', 'b', EOS, UNK]);
  assert.deepEqual(decode(cut, cut.train), ['a', 'a', 'a', 'b', 'b', UNK, UNK, EOS]);
  assert.deepEqual(decode(cut, cut.valid), [UNK, 'a', UNK, EOS]);
  assert.deepEqual(decode(cut, cut.test), ['b', UNK, EOS]);
  assert.deepEqual(loadCorpusFrom({ dir }, { level: 'word', vocabSize: 2 }).vocab.words, ['a', UNK]);
  // a size at least the number of types keeps everything
  assert.deepEqual(loadCorpusFrom({ dir }, { level: 'word', vocabSize: 100 }).vocab.words, ['a', 'b', EOS, 'c', 'd', UNK]);
  for (const bad of [1, 0]) {
    assert.throws(() => loadCorpusFrom({ dir }, { level: 'word', vocabSize: bad }), (err: unknown) =>
      err instanceof UserError && err.message.startsWith(`--vocab-size ${bad}: must be a whole number of at least 2`));
  }
});

test('<unk> in the training text keeps its place by count (PTB); otherwise it is added last', () => {
  const withUnk = loadCorpusFrom({ dir: corpusDir(`x ${UNK} ${UNK} ${UNK} y y\n`) }, WORDS);
  assert.deepEqual(withUnk.vocab.words, [UNK, 'y', EOS, 'x']);
  const cut = loadCorpusFrom({ dir: corpusDir(`x ${UNK} ${UNK} ${UNK} y y\n`) }, { level: 'word', vocabSize: 2 });
  assert.deepEqual(cut.vocab.words, [UNK, 'y']);
  const without = loadCorpusFrom({ dir: corpusDir('b a b\n') }, WORDS);
  assert.deepEqual(without.vocab.words, ['b', EOS, 'a', UNK]);
});

test('explicit train/valid/test files, anywhere; a given vocabulary is used as is', () => {
  const root = tempDir();
  mkdirSync(join(root, 'one'));
  mkdirSync(join(root, 'two'));
  const files = { train: join(root, 'one', 'my-train.text'), valid: join(root, 'two', 'v.txt'), test: join(root, 'test') };
  writeFileSync(files.train, 'the cat sat\non the mat\n');
  writeFileSync(files.valid, 'the mat sat\n');
  writeFileSync(files.test, 'a cat\n');
  const corpus = loadCorpusFrom(files, WORDS);
  assert.deepEqual(corpus.files, files);
  assert.deepEqual(decode(corpus, corpus.test), [UNK, 'cat', EOS]);
  const reused = loadCorpusFrom(files, { level: 'word', vocabSize: 3, vocab: corpus.vocab });
  assert.equal(reused.vocab, corpus.vocab, 'the given vocabulary wins over --vocab-size');
  assert.deepEqual(Array.from(reused.train), Array.from(corpus.train));
});

/** Asserts a one-line UserError whose message names `path` (and `flag`, when given). */
function assertBadInput(load: () => unknown, path: string, reason: RegExp, flag?: string): void {
  assert.throws(load, (err: unknown) => {
    assert.ok(err instanceof UserError, `a UserError, got ${String(err)}`);
    assert.ok(err.message.includes(path), `names ${path}: ${err.message}`);
    assert.match(err.message, reason);
    if (flag !== undefined) assert.ok(err.message.includes(flag), `names ${flag}: ${err.message}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

test('bad input: a missing or unreadable split names the file, the split and the flag to fix', () => {
  const dir = corpusDir('a b\n');
  const missing = join(dir, 'nope.txt');
  assertBadInput(() => loadCorpusFrom({ train: join(dir, 'train.txt'), valid: missing, test: join(dir, 'test.txt') }, WORDS),
    missing, /the validation split\): no such file; point --valid at/, '--valid');
  // a folder where a file should be cannot be read as text (chmod would not stop root)
  const folder = join(dir, 'sub');
  mkdirSync(folder);
  assertBadInput(() => loadCorpusFrom({ train: join(dir, 'train.txt'), valid: join(dir, 'valid.txt'), test: folder }, WORDS),
    folder, /the test split\): a folder, not a file; point --test at/, '--test');
  const inFolder = tempDir();
  mkdirSync(join(inFolder, 'train.txt'));
  writeFileSync(join(inFolder, 'valid.txt'), 'a\n');
  writeFileSync(join(inFolder, 'test.txt'), 'a\n');
  assertBadInput(() => loadCorpusFrom({ dir: inFolder }, WORDS), join(inFolder, 'train.txt'), /the training split\)/, '--data');
  assertBadInput(() => loadCorpusFrom({ dir: join(dir, 'no-such-folder') }, WORDS), 'no-such-folder', /no such folder/, '--data');
});

test('bad input: empty, whitespace-only, binary (NUL bytes) and invalid UTF-8 splits', () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['empty', '', /: empty; give it some text or point --data at another file/],
    ['whitespace only', ' \n\t \r\n\n', /: only whitespace; give it some text or point --data at another file/],
    ['NUL bytes', new Uint8Array([0x61, 0x20, 0x00, 0x62, 0x0a]), /not a text file \(it holds NUL bytes\)/],
    ['invalid UTF-8', new Uint8Array([0x61, 0x20, 0xff, 0xfe, 0x62, 0x0a]), /not valid UTF-8/],
    ['Latin-1 text', new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]), /not valid UTF-8/],
  ];
  for (const [, content, reason] of cases) {
    for (const level of ['word', 'char'] as const) {
      const dir = corpusDir('a b\n', content);
      assertBadInput(() => loadCorpusFrom({ dir }, { level, vocabSize: null }), join(dir, 'valid.txt'), reason, '--data');
      const train = corpusDir(content);
      assertBadInput(() => loadCorpusFrom({ dir: train }, { level, vocabSize: null }), join(train, 'train.txt'), reason, '--data');
    }
  }
});

test('corpusFingerprint: equal for the same corpus (wherever it lies), different when anything changes', () => {
  const text = 'the cat sat\non the mat\n';
  const a = loadCorpusFrom({ dir: corpusDir(text, 'the cat\n', 'the mat\n') }, WORDS);
  const b = loadCorpusFrom({ dir: corpusDir(text, 'the cat\n', 'the mat\n') }, WORDS);
  const fingerprint = corpusFingerprint(a);
  assert.match(fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(corpusFingerprint(b), fingerprint);
  const changed = [
    loadCorpusFrom({ dir: corpusDir(text, 'the mat\n', 'the mat\n') }, WORDS), //    valid changed
    loadCorpusFrom({ dir: corpusDir(text, 'the cat\n', 'the mat\n\n') }, WORDS), //  test one <eos> longer
    loadCorpusFrom({ dir: corpusDir('the cat sat\non the hat\n', 'the cat\n', 'the mat\n') }, WORDS), // train
    loadCorpusFrom({ dir: corpusDir(text, 'the cat\n', 'the mat\n') }, CHARS), //    level
    loadCorpusFrom({ dir: corpusDir(text, 'the cat\n', 'the mat\n') }, { level: 'word', vocabSize: 3 }), // vocabulary
  ];
  for (const other of changed) assert.notEqual(corpusFingerprint(other), fingerprint);
});

test('the shortest split, one token and no newline, still has something to predict: its <eos>', () => {
  const corpus = loadCorpusFrom({ dir: corpusDir('a b\n', 'b', '?') }, WORDS);
  assert.deepEqual(decode(corpus, corpus.valid), ['b', EOS]);
  assert.deepEqual(decode(corpus, corpus.test), [UNK, EOS]);
});
