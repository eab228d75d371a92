import type { DropoutPlacement } from '../model/lm.js';
import type { EpochMetrics } from '../train/trainer.js';

/**
 * The dropout ablation: one architecture, trained with each dropout placement and with a sweep of keep
 * probabilities for the paper's placement, every run under the same budget (epochs, and optionally
 * minutes). Runs that coincide are trained once: keep probability 1 is the same model whatever the
 * placement, so `none` doubles as the sweep's keep-1.0 point.
 */

export interface AblationRun {
  name: string; //         file stem, e.g. "zaremba-0.5"
  placement: DropoutPlacement;
  keepProb: number;
}

export const ABLATION_KEEP_PROBS = [1.0, 0.8, 0.65, 0.5, 0.35];
/** The keep probability at which the four placements are compared. */
export const PLACEMENT_KEEP_PROB = 0.5;

export function ablationRuns(): AblationRun[] {
  const runs: AblationRun[] = [{ name: 'none', placement: 'none', keepProb: 1 }];
  for (const keep of ABLATION_KEEP_PROBS) {
    if (keep === 1) continue; // = none
    runs.push({ name: `zaremba-${keep}`, placement: 'zaremba', keepProb: keep });
  }
  for (const placement of ['recurrent', 'variational'] as DropoutPlacement[]) {
    runs.push({ name: `${placement}-${PLACEMENT_KEEP_PROB}`, placement, keepProb: PLACEMENT_KEEP_PROB });
  }
  return runs;
}

/** The runs that make the placement comparison: none, and each placement at PLACEMENT_KEEP_PROB. */
export function placementRuns(runs: AblationRun[]): AblationRun[] {
  return runs.filter((r) => r.placement === 'none' || r.keepProb === PLACEMENT_KEEP_PROB);
}

/** The runs of the keep-probability sweep: the paper's placement at each keep probability (1 = none). */
export function sweepRuns(runs: AblationRun[]): AblationRun[] {
  return runs.filter((r) => r.placement === 'none' || r.placement === 'zaremba');
}

export interface AblationRunResult extends AblationRun {
  epochs: EpochMetrics[];
  epochsCompleted: number;
  finished: boolean;
  finalValidPerplexity: number | null;
  bestValidPerplexity: number | null;
  bestEpoch: number | null;
  testPerplexity: number | null; // of the final weights
  wallSeconds: number;
  tokensPerSecond: number | null;
}

/** What an ablation run's JSON log (as `rlstm train --log` writes it) says about the run. */
export function runResult(run: AblationRun, log: {
  epochs: EpochMetrics[]; test: { perplexity: number } | null; stopReason: string | null; wallSeconds: number;
}): AblationRunResult {
  const epochs = log.epochs;
  const valid = epochs.map((m) => m.validPerplexity);
  const best = valid.length > 0 ? Math.min(...valid) : null;
  const seconds = epochs.reduce((s, m) => s + m.seconds, 0);
  const tokens = epochs.reduce((s, m) => s + m.tokensPerSecond * m.seconds, 0);
  return {
    ...run,
    epochs,
    epochsCompleted: epochs.filter((m) => m.complete).length,
    finished: log.test !== null && log.stopReason !== 'interrupted',
    finalValidPerplexity: valid.at(-1) ?? null,
    bestValidPerplexity: best,
    bestEpoch: best === null ? null : valid.indexOf(best) + 1,
    testPerplexity: log.test?.perplexity ?? null,
    wallSeconds: log.wallSeconds,
    tokensPerSecond: seconds > 0 ? tokens / seconds : null,
  };
}
