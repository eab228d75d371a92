import type { DropoutPlacement } from './lm.js';

/** Every hyperparameter of a training run; each one is also a command-line flag. */
export interface TrainConfig {
  name: string;
  layers: number; //       L
  hidden: number; //       H = embedding size
  keepProb: number; //     dropout keep probability (1 = no dropout)
  placement: DropoutPlacement;
  layerNorm: boolean; //   LN-LSTM (beyond the paper)
  weightDecay: number; //  λ of λ/2·||W||² on weight matrices (beyond the paper)
  patience: number; //     early stopping after this many epochs without improvement; 0 = off (beyond the paper)
  init: number; //         uniform init in [−init, init]
  lr: number; //           initial learning rate
  decay: number; //        lr multiplier per epoch after maxEpoch
  maxEpoch: number; //     epochs at the initial learning rate
  epochs: number; //       epochs in all
  clip: number; //         max global gradient norm
  bptt: number; //         T, steps per window
  batchSize: number; //    B
  seed: number;
  maxSteps: number | null; // stop after this many optimizer steps in all (null: no limit)
  testBatchSize: number; // batch size used to score the test split (the references use 1)
  testBptt: number; //     window length used to score the test split
  timeBudgetMinutes: number | null; // stop training (and shorten evaluation) after this long
  level: 'word' | 'char'; // tokens are words (split on whitespace) or characters
  vocabSize: number | null; // keep the vocabSize−1 most frequent training tokens plus <unk> (null: all)
  /**
   * The matrix products' precision in training: fp32, or bf16 mixed precision (bf16 operands, float32
   * accumulation, float32 weights and everything else; kernels/mixed-precision.ts). Evaluation is float32 either way.
   */
  precision: Precision;
}

export type Precision = 'fp32' | 'bf16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

const paperDefaults = {
  placement: 'zaremba' as DropoutPlacement,
  layerNorm: false,
  weightDecay: 0,
  patience: 0,
  lr: 1,
  seed: 1,
  maxSteps: null,
  testBatchSize: 1,
  timeBudgetMinutes: null,
  level: 'word' as const,
  vocabSize: null,
  precision: 'fp32' as Precision,
};

/** The paper's three configurations (Zaremba et al. 2014, section 4.1), plus `quick` for a first run. */
export const CONFIGS: Record<string, TrainConfig> = {
  small: {
    ...paperDefaults, name: 'small', layers: 2, hidden: 200, keepProb: 1, init: 0.1, clip: 5, bptt: 20,
    batchSize: 20, epochs: 13, maxEpoch: 4, decay: 0.5, testBptt: 20,
  },
  medium: {
    ...paperDefaults, name: 'medium', layers: 2, hidden: 650, keepProb: 0.5, init: 0.05, clip: 5, bptt: 35,
    batchSize: 20, epochs: 39, maxEpoch: 6, decay: 1 / 1.2, testBptt: 35,
  },
  large: {
    ...paperDefaults, name: 'large', layers: 2, hidden: 1500, keepProb: 0.35, init: 0.04, clip: 10, bptt: 35,
    batchSize: 20, epochs: 55, maxEpoch: 14, decay: 1 / 1.15, testBptt: 35,
  },
  // The small architecture for one epoch; test scored with the training batch so the run stays short.
  quick: {
    ...paperDefaults, name: 'quick', layers: 2, hidden: 200, keepProb: 1, init: 0.1, clip: 5, bptt: 20,
    batchSize: 20, epochs: 1, maxEpoch: 4, decay: 0.5, testBatchSize: 20, testBptt: 20,
  },
};

/** The paper's reported perplexities and TensorFlow's reproduction (docs/method.md, README), for reference lines. */
export const PAPER_RESULTS: Record<string, { valid: number; test: number; tfValid: number; tfTest: number }> = {
  small: { valid: 120.7, test: 114.5, tfValid: 121.39, tfTest: 115.91 },
  medium: { valid: 86.2, test: 82.7, tfValid: 86.16, tfTest: 82.07 },
  large: { valid: 82.2, test: 78.4, tfValid: 82.62, tfTest: 78.29 },
};

/** The learning rate for a 1-based epoch: lr, times decay for every epoch past maxEpoch. */
export function learningRateForEpoch(config: TrainConfig, epoch: number): number {
  return config.lr * Math.pow(config.decay, Math.max(0, epoch - config.maxEpoch));
}
