import { loadCorpus } from '../data/corpus.js';
import { UserError } from '../errors.js';
import { selectBackend } from '../kernels/select.js';
import { CONFIGS } from '../model/configs.js';
import { runBench } from '../bench/bench.js';
import { parseBackend, parseFlag, parsePrecision } from './options.js';
import { bf16Refusal } from '../kernels/mixed-precision.js';
import { DEFAULT_DATA } from './train.js';

export interface BenchFlags {
  config: string;
  steps?: string;
  backend: string;
  data?: string;
  json?: boolean;
  precision?: string;
}

/** Default number of timed steps: enough for a stable figure, about half a minute per configuration with BLAS. */
const DEFAULT_STEPS: Record<string, number> = { quick: 40, small: 40, medium: 15, large: 6 };

export async function benchCommand(flags: BenchFlags): Promise<void> {
  const config = CONFIGS[flags.config];
  if (config === undefined) {
    throw new UserError(`--config ${flags.config}: unknown configuration; use one of ${Object.keys(CONFIGS).join(', ')}`);
  }
  const steps = flags.steps === undefined ? DEFAULT_STEPS[flags.config] : parseFlag('--steps', flags.steps);
  const backendChoice = parseBackend(flags.backend);
  const corpus = loadCorpus(flags.data ?? DEFAULT_DATA);
  const precision = parsePrecision(flags.precision ?? 'fp32');
  const backend = selectBackend(backendChoice, (line) => console.error(line), { hidden: config.hidden }); // after the inputs' checks
  const refusal = precision === 'bf16' ? bf16Refusal(backend) : null;
  if (refusal !== null) throw new UserError(refusal);
  const r = runBench(backend, corpus, { ...config, precision }, steps);
  if (flags.json) {
    console.log(JSON.stringify(r));
    return;
  }
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  console.log(`rlstm bench: config ${r.config}, backend ${r.backend} (${r.library}), ${r.precision}, ${r.steps} training step${r.steps === 1 ? "" : "s"} in ${r.rounds} rounds`);
  console.log(`  ${`${r.precision} GEMM on the batched shapes `.padEnd(47)}${r.gemmGflops.toFixed(1)} GFLOP/s (the roofline; mean of the rounds, best per shape below)`);
  for (const s of r.gemmShapes) console.log(`    ${s.name.padEnd(42)} ${`${s.M}×${s.N}×${s.K}`.padStart(16)}  ${s.gflops.toFixed(1)} GFLOP/s`);
  console.log(`  per-step recurrent products                    ${r.recurrentGemmGflops.toFixed(1)} GFLOP/s`);
  if (r.wasmGemm !== undefined) {
    const w = r.wasmGemm;
    console.log(`  WebAssembly ${w.variant} GEMM on one thread      ${w.oneThreadGflops.toFixed(1)} GFLOP/s = ${pct(w.oneThreadFractionOfPeak)} of its multiply-add peak `
      + `(${w.peakGflops.toFixed(1)} GFLOP/s, same process); the backend's GEMM ${w.backendOverOneThread.toFixed(2)}× that`);
  }
  console.log(`  FLOPs per trained token                        ${(r.flopsPerToken / 1e6).toFixed(1)} M`);
  console.log(`  roofline                                       ${r.rooflineTokensPerSecond.toFixed(0)} tokens/s`);
  console.log(`  training                                       ${r.tokensPerSecond.toFixed(0)} tokens/s  (${pct(r.rooflineFraction)} of the roofline measured after each round)`);
  console.log(`  ceiling if a step were only its GEMMs          ${pct(r.gemmOnlyFraction)} of the roofline (the recurrent products run slower)`);
  const best = r.machineBest;
  if (best.precision !== r.precision) {
    console.log(`  ${`the machine's limit (${best.precision} products) `.padEnd(47)}${best.rooflineTokensPerSecond.toFixed(0)} tokens/s at ${best.gemmGflops.toFixed(1)} GFLOP/s: `
      + `training is at ${pct(best.fraction)} of it`);
  }
  console.log(`  evaluation (float32)                           ${r.evalTokensPerSecond.toFixed(0)} tokens/s`);
  console.log(`  peak memory (RSS)                              ${r.peakRssMb.toFixed(0)} MB`);
  console.log('  where a training step\'s time goes:');
  for (const [k, v] of Object.entries(r.breakdown)) console.log(`    ${k.padEnd(22)} ${pct(v)}`);
}
