import type { DropoutPlacement } from '../../src/model/lm.js';

/**
 * The messages between the page and a training worker (one worker per run). The page sends commands;
 * the worker answers with what it measured. Everything is plain data (structured clone).
 */

/** What the lab's controls choose. The rest of the run is fixed (see FIXED below). */
export interface LabSettings {
  placement: DropoutPlacement;
  keepProb: number; //    dropout keep probability (1 = no dropout)
  hidden: number; //      H = embedding size
  layers: number; //      L
  lr: number; //          plain SGD learning rate (constant in the lab)
  layerNorm: boolean; //  LN-LSTM (beyond the paper)
  weightDecay: number; // λ of the L2 penalty λ/2·||W||² on weight matrices (beyond the paper; 0 = off)
  patience: number; //    early stopping after this many epochs without a better validation perplexity (0 = off)
  seed: number;
}

/** The parts of the paper's small configuration the lab keeps fixed, shown on the page. */
export const FIXED = {
  batchSize: 20, //    B
  bptt: 20, //         T
  init: 0.1, //        uniform in [−init, init]
  clip: 5, //          max global gradient norm
  vocabSize: 2000, //  the 1,999 most frequent words of the excerpt, plus <unk>
} as const;

export type ToWorker =
  | { type: 'start'; settings: LabSettings; threads: 1 | 2 } // threads of the WebAssembly GEMM (2: the page is isolated, no other run trains)
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
  | { type: 'ready'; corpus: CorpusInfo; gemm: string } // where the matrix products run: the backend's library, e.g. 'WebAssembly SIMD, 2 threads'
  /**
   * Training perplexity (dropout on) over the windows since the last report; `words` counts every trained
   * word so far, `epochs` the epochs trained so far, fractional (1.5 = half way through epoch 2).
   */
  | { type: 'train'; words: number; epochs: number; perplexity: number; step: number; epoch: number; wordsPerSecond: number }
  /**
   * Validation perplexity (dropout off, whole validation excerpt) after `epoch` whole epochs (0: untrained),
   * with that epoch's training perplexity (over all its windows, dropout on; null for epoch 0) and the best
   * epoch so far (the one early stopping would restore).
   */
  | {
    type: 'valid'; epoch: number; words: number; perplexity: number; trainPerplexity: number | null; seconds: number;
    bestEpoch: number; bestPerplexity: number;
  }
  /**
   * Early stopping ended the run after `epoch` epochs: no better validation perplexity for `patience` epochs.
   * The best epoch's weights were restored; `restoredPerplexity` is the validation perplexity measured again
   * with them (equal to the best, which shows that the restore worked).
   */
  | { type: 'stopped'; epoch: number; bestEpoch: number; bestPerplexity: number; restoredPerplexity: number }
  | { type: 'sample'; text: string }
  | { type: 'paused' }
  | { type: 'error'; message: string };
