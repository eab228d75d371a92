import { exercise as dropout } from './01-dropout/checks.js';
import { exercise as layerNorm } from './02-layer-norm/checks.js';
import { exercise as weightDecay } from './03-weight-decay/checks.js';
import { exercise as earlyStopping } from './04-early-stopping/checks.js';
import { exercise as pipeline } from './05-pipeline/checks.js';
import type { RunnableExercise } from './harness.js';

/** The five exercises, in order. */
export const EXERCISES: readonly RunnableExercise[] = [dropout, layerNorm, weightDecay, earlyStopping, pipeline];
