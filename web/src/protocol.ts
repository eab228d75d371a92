import type { DropoutPlacement } from '../../src/model/lm.js';

/**
 * The messages between the page and a training worker (one worker per run). The page sends commands;
 * the worker answers with what it measured. Everything is plain data (structured clone).
 */

/** What the lab's controls choose. The rest of the run is fixed (see FIXED below). */
export interface LabSettings {
  placement: DropoutPlacement;
  keepProb: number; //   dropout keep probability (1 = no dropout)
  hidden: number; //     H = embedding size
  layers: number; //     L
  lr: number; //         plain SGD learning rate (constant in the lab)
  seed: number;
}

/** The parts of the paper's small configuration the lab keeps fixed, shown on the page. */
export const FIXED = {
  batchSize: 20, //    B
  bptt: 20, //         T
  init: 0.1, //        uniform in [−init, init]
  clip: 5, //          max global gradient norm
  vocabSize: 2000, //  the 1,999 most frequent words of the excerpt, plus <unk>
  validateEverySeconds: 4, // of training time between two validation passes
} as const;

export type ToWorker =
  | { type: 'start'; settings: LabSettings }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'sample'; count: number; temperature: number; seed: number };

export interface CorpusInfo {
  trainLines: number;
  trainTokens: number;
  validTokens: number;
  vocabSize: number;
  parameters: number;
}

export type FromWorker =
  | { type: 'ready'; corpus: CorpusInfo; gemm: 'WebAssembly SIMD' | 'TypeScript' } // where the matrix products run
  /** Training perplexity over the windows since the last report; `words` counts every trained word so far. */
  | { type: 'train'; words: number; perplexity: number; step: number; epoch: number; wordsPerSecond: number }
  /** Validation perplexity (dropout off, whole validation excerpt) after `words` trained words. */
  | { type: 'valid'; words: number; perplexity: number; seconds: number }
  | { type: 'sample'; text: string }
  | { type: 'paused' }
  | { type: 'error'; message: string };
