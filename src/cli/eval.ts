import { fittingBatchSize, loadCorpusFrom, shortSplitNote } from '../data/corpus.js';
import { UserError } from '../errors.js';
import { selectBackend } from '../kernels/select.js';
import { loadModelFromCheckpoint } from '../train/load.js';
import { evaluate } from '../train/evaluate.js';
import { checkCheckpointFits, checkMemory, estimateEvaluationBytes } from '../train/memory.js';
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
  const backendChoice = parseBackend(flags.backend);
  checkCheckpointFits(flags.checkpoint);
  const { model, config, vocab, dataSource } = loadModelFromCheckpoint(flags.checkpoint);
  const B = batchSize ?? config.batchSize;
  const T = bptt ?? config.bptt;
  checkMemory(estimateEvaluationBytes(model.config, B, T), 'this evaluation');
  // the corpus given, else the one the model was trained on, else the bundled PTB
  const source = corpusSource(flags, dataSource ?? { dir: DEFAULT_DATA });
  const corpus = loadCorpusFrom(source, { level: config.level ?? 'word', vocabSize: null, vocab });
  const stream = flags.split === 'valid' ? corpus.valid : corpus.test;
  const file = corpus.files[flags.split];
  const fitted = fittingBatchSize(stream.length, B); // as training scores a short split: the largest batch that fits
  if (fitted !== B) console.error(shortSplitNote(file, stream.length, '--batch-size', B, fitted));
  // the backend once the inputs are checked: a mistake prints one line even where BLAS's note would come first
  const backend = selectBackend(backendChoice, (line) => console.error(line));
  const started = performance.now();
  const result = evaluate(backend, model, stream, fitted, T, null, file);
  const seconds = (performance.now() - started) / 1000;
  if (flags.json) {
    console.log(JSON.stringify({
      split: flags.split, perplexity: result.perplexity, nll: result.nll, tokens: result.tokens,
      batchSize: fitted, bptt: T, backend: backend.name, seconds,
    }));
  } else {
    console.log(`${flags.split} perplexity ${result.perplexity.toFixed(2)} (${result.tokens} tokens, batch ${fitted}, T ${T}, `
      + `backend ${backend.name}, ${seconds.toFixed(1)} s)`);
  }
}
