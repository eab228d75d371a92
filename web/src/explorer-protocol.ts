import type { ContinueOptions, Feature, Quantity, TextScore } from '../../src/model/inspect.js';

/**
 * The messages between the page's model explorer and its worker (explorer-worker.ts), which holds the
 * model. Every request carries an id; the answer repeats it, so the page can drop answers to requests
 * it has since replaced (a visitor typing). Everything is plain data (structured clone).
 */

export type ExplorerRequest =
  /** Load the bundled model (its URL) or a checkpoint file the visitor opened. */
  | { type: 'load'; id: number; url: string; name: string }
  | { type: 'load'; id: number; file: File; name: string }
  /** Score a text and keep its trace for 'units'. */
  | { type: 'analyze'; id: number; text: string }
  /**
   * Units of a layer over the last analyzed text: the `count` whose `quantity` correlates most with
   * `feature`, or the listed `units` (feature null); with each unit's i, f, o and c at every step.
   */
  | { type: 'units'; id: number; layer: number; quantity: Quantity; feature: Feature | null; units: number[]; count: number }
  | { type: 'continue'; id: number; text: string; options: ContinueOptions };

export interface ModelInfo {
  name: string; //       the file's name
  dtype: string; //      F32, F16, BF16 or mixed: what the file stores
  bytes: number;
  hidden: number;
  layers: number;
  vocabSize: number;
  level: 'word' | 'char';
  layerNorm: boolean;
  parameters: number;
  testPerplexity: string | null; // recorded in the file's metadata by rlstm export, when it is
}

export interface UnitTrace {
  unit: number;
  r: number | null; // correlation with the feature, when units were found by one
  series: Record<Quantity, number[]>; // one value per step
}

export type ExplorerAnswer =
  | { type: 'loaded'; id: number; info: ModelInfo }
  | {
    type: 'analysis'; id: number; score: TextScore;
    fed: string[]; //                                   the token read at each step: every token of the text
    next: { words: string[]; probs: number[] }[]; //   after each step: the ten most likely next tokens
  }
  | { type: 'units'; id: number; layer: number; feature: Feature | null; quantity: Quantity; fed: string[]; units: UnitTrace[] }
  | { type: 'continuation'; id: number; text: string; tokens: string[] }
  | { type: 'error'; id: number; message: string };
