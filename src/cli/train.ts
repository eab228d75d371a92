import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { loadCorpus } from '../data/corpus.js';
import { UserError } from '../errors.js';
import { selectBackend } from '../kernels/select.js';
import { trainModel } from '../train/trainer.js';
import { parseBackend, resolveTrainConfig, type TrainFlags } from './options.js';

export interface TrainCommandFlags extends TrainFlags {
  backend: string;
  data: string;
  save?: string;
  log?: string;
}

/** Minutes the `quick` configuration trains on the TypeScript backend, so that `npm start` stays short. */
const QUICK_JS_BUDGET_MINUTES = 3;
/** Tokens scored per evaluation under a time budget. */
const BUDGET_EVAL_TOKENS = 8000;

/** Checks before training that a file can be written at `path` (its folder exists and is writable). */
function checkWritable(flag: string, path: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`${flag} ${path}: the folder ${dir} does not exist; create it or choose another path`);
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UserError(`${flag} ${path}: the folder ${dir} is not writable; choose another path`);
  }
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

export async function trainCommand(flags: TrainCommandFlags): Promise<void> {
  const config = resolveTrainConfig(flags);
  const backend = selectBackend(parseBackend(flags.backend), (line) => console.error(line));
  if (backend.name === 'js' && config.name === 'quick' && config.timeBudgetMinutes === null) {
    config.timeBudgetMinutes = QUICK_JS_BUDGET_MINUTES;
    console.error(`note: the TypeScript backend trains 'quick' for ${QUICK_JS_BUDGET_MINUTES} minutes instead of a full epoch, `
      + `and scores ${BUDGET_EVAL_TOKENS} tokens per evaluation (--time-budget sets the limit)`);
  }
  const savePath = flags.save ?? null;
  if (savePath !== null) checkWritable('--save', savePath);
  let logPath = flags.log ?? null;
  if (logPath === null) {
    mkdirSync('runs', { recursive: true });
    logPath = `runs/${config.name}-${timestamp()}.json`;
  }
  checkWritable('--log', logPath);
  const corpus = loadCorpus(flags.data);

  console.log(`rlstm train: config ${config.name} (${config.layers}×${config.hidden}, keep ${config.keepProb}, `
    + `placement ${config.placement}${config.layerNorm ? ', layer norm' : ''}), backend ${backend.name}, `
    + `vocabulary ${corpus.vocab.words.length}, ${corpus.train.length} training tokens`);
  const bar = new cliProgress.SingleBar({
    format: 'epoch {epoch} |{bar}| {value}/{total} | {speed} tok/s | ETA {eta_formatted} | ppl {ppl} | lr {lr}',
    hideCursor: true, clearOnComplete: true, etaBuffer: 50, barsize: 24,
  }, cliProgress.Presets.shades_classic);

  const result = await trainModel({
    backend, corpus, config, savePath, logPath, budgetEvalTokens: BUDGET_EVAL_TOKENS,
    callbacks: {
      onEpochStart: (epoch, lr, windows) => bar.start(windows, 0, { epoch, speed: '-', ppl: '-', lr: lr.toPrecision(3) }),
      onStep: (p) => bar.update(p.window, {
        epoch: p.epoch, speed: Math.round(p.tokensPerSecond), ppl: p.trainPerplexity.toFixed(1), lr: p.lr.toPrecision(3),
      }),
      onEpochEnd: (m) => {
        bar.stop();
        console.log(`epoch ${m.epoch}  lr ${m.lr.toPrecision(3)}  train ppl ${m.trainPerplexity.toFixed(2)}  `
          + `valid ppl ${m.validPerplexity.toFixed(2)}  (${m.seconds.toFixed(0)} s, ${Math.round(m.tokensPerSecond)} tok/s`
          + `${m.complete ? '' : ', partial epoch'})`);
      },
      onMessage: (line) => { bar.stop(); console.log(line); },
    },
  });
  bar.stop();
  if (result.test !== null) {
    console.log(`test perplexity ${result.test.perplexity.toFixed(2)} (${result.test.tokens} tokens, batch ${result.test.batchSize}, `
      + `T ${result.test.bptt}${result.test.complete ? '' : ', partial: time budget'})`);
  }
  const last = result.epochs.at(-1);
  if (last !== undefined) console.log(`validation perplexity ${last.validPerplexity.toFixed(2)}`);
  console.log(`log: ${logPath}  (${result.wallSeconds.toFixed(0)} s in all)`);
}
