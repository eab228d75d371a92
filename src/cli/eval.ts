import { loadCorpusFrom } from '../data/corpus.js';
import { UserError } from '../errors.js';
import { selectBackend } from '../kernels/select.js';
import { loadModelFromCheckpoint } from '../train/load.js';
import { evaluate } from '../train/evaluate.js';
import { parseBackend, parseFlag } from './options.js';
import { corpusSource, DEFAULT_DATA } from './train.js';

export interface EvalCommandFlags {
  checkpoint: string;
  data?: string;
  train?: string;
  valid?: string;
  test?: string;
  split: string;
  batchSize?: string;
  bptt?: string;
  backend: string;
  json?: boolean;
}

export async function evalCommand(flags: EvalCommandFlags): Promise<void> {
  if (flags.split !== 'valid' && flags.split !== 'test') {
    throw new UserError(`--split ${flags.split}: unknown split; use valid or test`);
  }
  const batchSize = flags.batchSize === undefined ? null : parseFlag('--batch-size', flags.batchSize);
  const bptt = flags.bptt === undefined ? null : parseFlag('--bptt', flags.bptt);
  const backend = selectBackend(parseBackend(flags.backend), (line) => console.error(line));
  const { model, config, vocab, dataSource } = loadModelFromCheckpoint(flags.checkpoint);
  const B = batchSize ?? config.batchSize;
  const T = bptt ?? config.bptt;
  // the corpus given, else the one the model was trained on, else the bundled PTB
  const source = corpusSource(flags, dataSource ?? { dir: DEFAULT_DATA });
  const corpus = loadCorpusFrom(source, { level: config.level ?? 'word', vocabSize: null, vocab });
  const stream = flags.split === 'valid' ? corpus.valid : corpus.test;
  const started = performance.now();
  const result = evaluate(backend, model, stream, B, T, null, corpus.files[flags.split]);
  const seconds = (performance.now() - started) / 1000;
  if (flags.json) {
    console.log(JSON.stringify({
      split: flags.split, perplexity: result.perplexity, nll: result.nll, tokens: result.tokens,
      batchSize: B, bptt: T, backend: backend.name, seconds,
    }));
  } else {
    console.log(`${flags.split} perplexity ${result.perplexity.toFixed(2)} (${result.tokens} tokens, batch ${B}, T ${T}, `
      + `backend ${backend.name}, ${seconds.toFixed(1)} s)`);
  }
}
