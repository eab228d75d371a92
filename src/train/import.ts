import { basename } from 'node:path';
import { EOS, UNK, type TokenLevel } from '../data/text.js';
import { UserError } from '../errors.js';
import { createModel, type Model } from '../model/params.js';
import type { Checkpoint, CheckpointTensor } from './checkpoint.js';

/**
 * `rlstm import`: a PyTorch model's state_dict, saved with safetensors, and its vocabulary file, as an rlstm
 * checkpoint. The model is the README's class:
 *
 *   encoder = nn.Embedding(V, H)      encoder.weight (V,H)
 *   rnn     = nn.LSTM(H, H, L)        rnn.weight_ih_l{l} (4H,H), rnn.weight_hh_l{l} (4H,H),
 *                                     rnn.bias_ih_l{l} (4H), rnn.bias_hh_l{l} (4H)
 *   decoder = nn.Linear(H, V)         decoder.weight (V,H), decoder.bias (V)
 *
 * These are rlstm's own tensors (model/params.ts): the same names, the same gate order (i, f, g, o), and the
 * same two biases per layer, both added into z (docs/method.md), so every value is copied unchanged. What PyTorch
 * allows and rlstm's model can hold exactly is converted: nn.LSTM(bias=False) and nn.Linear(bias=False) have
 * no bias tensors, which is the same model with the biases at zero; DistributedDataParallel's `module.` and
 * torch.compile's `_orig_mod.` key prefixes are removed. Anything else is refused in one line naming the
 * tensor and the fix. The sizes come from the shapes; the vocabulary file gives the tokens in id order.
 */

/** What the command line chose: the token level and the evaluation defaults the checkpoint records. */
export interface ImportOptions {
  level: TokenLevel;
  batchSize: number; // B that rlstm eval uses for this model when --batch-size is not given
  bptt: number; //      T likewise
}

/** The two input files, named in messages and recorded in the metadata. */
export interface ImportSources {
  stateDict: string; // the safetensors file's path
  stateDictSha256: string; // of its bytes
  vocab: string;
  vocabSha256: string;
}

export interface Imported {
  model: Model;
  metadata: Record<string, string>; // config, vocab and importedFrom (checkpoint.ts adds format and sha256)
  notes: string[]; //                  the conversions made, one line each
}

/** The refusal of a state_dict: one line naming the file, what does not fit, and the fix. */
function refuse(source: string, why: string, fix: string): UserError {
  return new UserError(`--state-dict ${source}: ${why}; ${fix}`);
}

const README_MODEL = "a state_dict of the README's model (encoder = nn.Embedding, rnn = nn.LSTM, decoder = nn.Linear)";

/** Key prefixes that wrappers add to every name: DistributedDataParallel's and torch.compile's. */
const WRAPPER_PREFIXES = ['module.', '_orig_mod.'];

/** The tensors under the names the README's model gives them, and the wrapper prefix removed, if any. */
function unwrapped(tensors: Map<string, CheckpointTensor>): { tensors: Map<string, CheckpointTensor>; prefix: string } {
  let prefix = '';
  let names = [...tensors.keys()];
  for (;;) {
    const p = WRAPPER_PREFIXES.find((w) => names.length > 0 && names.every((n) => n.startsWith(w)));
    if (p === undefined) break;
    prefix += p;
    names = names.map((n) => n.slice(p.length));
  }
  if (prefix === '') return { tensors, prefix };
  return { tensors: new Map([...tensors].map(([n, t]) => [n.slice(prefix.length), t])), prefix };
}

/** A name as a message shows it: plain when it is, JSON-quoted otherwise, shortened. */
function shown(name: string): string {
  const text = /^[\w.\-:/]+$/.test(name) ? name : JSON.stringify(name);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** "the embedding, nn.Embedding's weight" as the subject of a sentence: "the embedding (nn.Embedding's weight)". */
function inWords(meaning: string): string {
  return meaning.replace(/^(.*?), (.*)$/, '$1 ($2)');
}

/** The names of the README's model, whatever its sizes. */
const MODEL_NAME = /^(encoder\.weight|rnn\.(weight|bias)_(ih|hh)_l\d+|decoder\.(weight|bias))$/;

/** A few of the file's tensor names, those foreign to the model first: a message's "the file has ..." part. */
function someNames(tensors: Map<string, CheckpointTensor>, prefix: string): string {
  const names = [...tensors.keys()];
  const foreign = (n: string): number => (MODEL_NAME.test(n.slice(prefix.length)) ? 1 : 0);
  const first = [...names].sort((a, b) => foreign(a) - foreign(b)).slice(0, 4);
  return first.map(shown).join(', ') + (names.length > 4 ? `, ... (${names.length} tensors)` : '');
}

/**
 * Reads the architecture off the shapes, checks every tensor, and builds the rlstm model holding the
 * weights. `checkpoint` is the decoded safetensors file, `words` the vocabulary file's tokens in id order.
 */
export function importStateDict(checkpoint: Checkpoint, words: string[], sources: ImportSources, options: ImportOptions): Imported {
  const source = sources.stateDict;
  if (checkpoint.metadata.format?.startsWith('regularized-lstm/') && checkpoint.metadata.config !== undefined) {
    throw refuse(source, 'this is already an rlstm checkpoint', "use it as it is (rlstm eval --checkpoint FILE), or 'rlstm export' it");
  }
  const { tensors, prefix } = unwrapped(checkpoint.tensors);
  if (tensors.size === 0) throw refuse(source, 'the file holds no tensors', `save ${README_MODEL}`);
  const used = new Set<string>();
  const take = (name: string, shape: number[], meaning: string): Float32Array => {
    const t = tensors.get(name);
    if (t === undefined) {
      throw refuse(source, `tensor ${prefix}${name} (${meaning}) is missing; the file has ${someNames(checkpoint.tensors, prefix)}`,
        `save ${README_MODEL}, with these attribute names`);
    }
    if (t.shape.join('x') !== shape.join('x')) {
      throw refuse(source, `tensor ${prefix}${name} is shaped [${t.shape.join(', ')}], but ${inWords(meaning)} must be [${shape.join(', ')}] here`,
        'save the state_dict of one consistent model');
    }
    used.add(name);
    return t.data;
  };
  const shapeOf = (name: string, meaning: string, rank: number): number[] => {
    const t = tensors.get(name);
    if (t === undefined) {
      throw refuse(source, `tensor ${prefix}${name} (${meaning}) is missing; the file has ${someNames(checkpoint.tensors, prefix)}`,
        `save ${README_MODEL}, with these attribute names`);
    }
    if (t.shape.length !== rank || t.shape.some((d) => d === 0)) {
      throw refuse(source, `tensor ${prefix}${name} is shaped [${t.shape.join(', ')}], but ${inWords(meaning)} is a non-empty ${rank === 1 ? 'vector' : 'matrix'}`,
        `save ${README_MODEL}`);
    }
    return t.shape;
  };

  // what PyTorch's nn.LSTM can be and rlstm's LSTM cannot: refused before anything else, with the setting to change
  for (const name of tensors.keys()) {
    if (/^rnn\..*_reverse$/.test(name)) {
      throw refuse(source, `tensor ${prefix}${name} belongs to a bidirectional nn.LSTM`, 'a language model reads left to right: train with bidirectional=False');
    }
    if (/^rnn\.weight_hr_l\d+$/.test(name)) {
      throw refuse(source, `tensor ${prefix}${name} is nn.LSTM's projection (proj_size > 0), which rlstm's LSTM has not`, 'train with proj_size=0');
    }
  }

  // the sizes, from the shapes: V and E from the embedding, H from layer 0's recurrent weights
  const [V, E] = shapeOf('encoder.weight', "the embedding, nn.Embedding's weight", 2);
  const [fourH, H] = shapeOf('rnn.weight_hh_l0', "layer 0's recurrent weights, nn.LSTM's weight_hh_l0", 2);
  if (fourH !== 4 * H) {
    throw refuse(source, `tensor ${prefix}rnn.weight_hh_l0 is shaped [${fourH}, ${H}], but an LSTM's recurrent weights are [4·hidden, hidden]`,
      `save ${README_MODEL}`);
  }
  if (E !== H) {
    throw refuse(source, `the embedding size ${E} (${prefix}encoder.weight) differs from the LSTM's hidden size ${H} (${prefix}rnn.weight_hh_l0)`,
      "rlstm's model has embedding size = hidden size (as the paper's): train nn.Embedding(V, H) with nn.LSTM(H, H, L)");
  }
  let L = 0;
  while (tensors.has(`rnn.weight_ih_l${L}`) || tensors.has(`rnn.weight_hh_l${L}`)) L++;
  // nn.LSTM(bias=False) has no bias tensor at all: its biases are zero, which rlstm holds exactly
  const lstmBias = tensors.has('rnn.bias_ih_l0') || tensors.has('rnn.bias_hh_l0');
  const decoderBias = tensors.has('decoder.bias');

  const model = createModel({ vocabSize: V, hidden: H, layers: L, layerNorm: false });
  model.encoder.weight.set(take('encoder.weight', [V, H], "the embedding, nn.Embedding's weight"));
  for (let l = 0; l < L; l++) {
    const w = model.layers[l].w;
    w.weightIh.set(take(`rnn.weight_ih_l${l}`, [4 * H, H], `layer ${l}'s input weights, nn.LSTM's weight_ih_l${l}`));
    w.weightHh.set(take(`rnn.weight_hh_l${l}`, [4 * H, H], `layer ${l}'s recurrent weights, nn.LSTM's weight_hh_l${l}`));
    if (lstmBias) {
      w.biasIh.set(take(`rnn.bias_ih_l${l}`, [4 * H], `layer ${l}'s input bias, nn.LSTM's bias_ih_l${l}`));
      w.biasHh.set(take(`rnn.bias_hh_l${l}`, [4 * H], `layer ${l}'s recurrent bias, nn.LSTM's bias_hh_l${l}`));
    }
  }
  if (!tensors.has('decoder.weight') && tensors.has('encoder.weight')) {
    throw refuse(source, `tensor ${prefix}decoder.weight (the output layer's weights, nn.Linear's weight) is missing; the file has ${someNames(checkpoint.tensors, prefix)}`,
      'save the whole state_dict of the README\'s model (a decoder tied to the encoder: save its weight under both names)');
  }
  model.decoder.weight.set(take('decoder.weight', [V, H], "the output layer's weights, nn.Linear's weight"));
  if (decoderBias) model.decoder.bias.set(take('decoder.bias', [V], "the output layer's bias, nn.Linear's bias"));

  for (const name of tensors.keys()) {
    if (used.has(name)) continue;
    const layer = /^rnn\.(?:weight|bias)_(?:ih|hh)_l(\d+)$/.exec(name);
    if (layer !== null && !lstmBias && name.includes('bias')) {
      throw refuse(source, `tensor ${prefix}${name} is there but ${prefix}rnn.bias_ih_l0 and ${prefix}rnn.bias_hh_l0 are not`,
        'nn.LSTM has both biases in every layer or none: save the state_dict of one model');
    }
    throw refuse(source, layer !== null
      ? `tensor ${prefix}${name} belongs to layer ${layer[1]}, but layer ${L} is missing (${prefix}rnn.weight_ih_l${L})`
      : `tensor ${prefix}${name} is not part of the README's model (encoder, rnn, decoder)`,
    'save the state_dict of exactly that model, or remove the tensor from the file');
  }
  for (const t of model.tensors) {
    const values = model.params.subarray(t.offset, t.offset + t.size);
    const at = values.findIndex((x) => !Number.isFinite(x));
    if (at >= 0) {
      throw refuse(source, `tensor ${prefix}${t.name} holds ${values[at]} (element ${at})`,
        'the PyTorch training diverged there: import a checkpoint from before it');
    }
  }

  if (words.length !== V) {
    throw new UserError(`--vocab ${sources.vocab}: ${words.length} tokens, but ${prefix}encoder.weight has ${V} rows (one per token); `
      + 'pass the vocabulary the model was trained with, one token per line in id order');
  }

  const notes: string[] = [];
  if (prefix !== '') notes.push(`the key prefix ${prefix} (${prefix.startsWith('module.') ? 'DistributedDataParallel' : 'torch.compile'}) was removed`);
  if (!lstmBias) notes.push('the LSTM has no biases (nn.LSTM bias=False): they are zero in the checkpoint');
  if (!decoderBias) notes.push('the decoder has no bias (nn.Linear bias=False): it is zero in the checkpoint');
  if (!words.includes(UNK)) notes.push(`the vocabulary has no ${UNK}: text with a token outside it cannot be scored`);

  const dtypes = [...new Set([...checkpoint.tensors.values()].map((t) => t.dtype))];
  const config = {
    name: 'imported', layers: L, hidden: H, layerNorm: false, level: options.level,
    batchSize: options.batchSize, bptt: options.bptt, testBatchSize: 1, testBptt: options.bptt,
  };
  const importedFrom = {
    stateDict: {
      file: basename(sources.stateDict), sha256: sources.stateDictSha256, dtype: dtypes.length === 1 ? dtypes[0] : dtypes,
      metadata: checkpoint.metadata, // what PyTorch's safetensors wrote there, if anything (e.g. format: pt)
    },
    vocab: { file: basename(sources.vocab), sha256: sources.vocabSha256, tokens: words.length },
    pytorch: `nn.Embedding(${V}, ${H}) -> nn.LSTM(${H}, ${H}, ${L}${lstmBias ? '' : ', bias=False'}) -> nn.Linear(${H}, ${V}${decoderBias ? '' : ', bias=False'})`,
    prefixRemoved: prefix === '' ? null : prefix,
    // the config holds the architecture and the evaluation defaults; how PyTorch trained it is not in the file
    configFrom: 'shapes (layers, hidden), --level, --batch-size, --bptt',
  };
  return {
    model,
    metadata: { config: JSON.stringify(config), vocab: JSON.stringify(words), importedFrom: JSON.stringify(importedFrom) },
    notes,
  };
}

/**
 * The tokens of a vocabulary file, in id order: one token per line (UTF-8; a final newline, CRLF line ends and
 * a byte-order mark are fine). At the word level a token holds no whitespace; at the character level it is
 * one character, or `<eos>` / `<unk>`. Every token appears once, and `<eos>` is there: rlstm ends every line
 * of text with it.
 */
export function parseVocabularyFile(bytes: Uint8Array, path: string, level: TokenLevel): string[] {
  const bad = (why: string, fix: string): UserError => new UserError(`--vocab ${path}: ${why}; ${fix}`);
  const oneTokenPerLine = 'write one token per line, in id order';
  if (bytes.includes(0)) throw bad('not a text file (it holds NUL bytes)', oneTokenPerLine);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bad('not valid UTF-8', 'write the file as UTF-8, one token per line');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  if (lines.at(-1) === '') lines.pop(); // the final newline
  if (lines.length === 0) throw bad('empty', oneTokenPerLine);
  const seen = new Map<string, number>();
  lines.forEach((token, k) => {
    const line = k + 1;
    if (token === '') throw bad(`line ${line} is empty`, `${oneTokenPerLine}, with no blank lines`);
    if (level === 'word' && /\s/.test(token)) {
      throw bad(`line ${line} (${JSON.stringify(token.length > 40 ? `${token.slice(0, 37)}...` : token)}) holds whitespace, which no word has (words are split at whitespace)`,
        `${oneTokenPerLine}; for a character-level model pass --level char`);
    }
    if (level === 'char' && [...token].length !== 1 && token !== EOS && token !== UNK) {
      throw bad(`line ${line} (${JSON.stringify(token.length > 40 ? `${token.slice(0, 37)}...` : token)}) is not one character (--level char)`,
        `${oneTokenPerLine}; for a word-level model leave out --level char`);
    }
    const first = seen.get(token);
    if (first !== undefined) {
      throw bad(`line ${line} repeats the token ${JSON.stringify(token)} of line ${first}`, 'every token once, one per line in id order');
    }
    seen.set(token, line);
  });
  if (!seen.has(EOS)) {
    throw bad(`no ${EOS} token in its ${lines.length} lines; rlstm ends every line of text with ${EOS}`,
      `name the model's end-of-line token ${EOS} in the file (at its id)`);
  }
  return lines;
}
