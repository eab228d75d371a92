import { Command, Option } from 'commander';
import { BACKEND_CHOICES } from '../kernels/choices.js';
import { failureLine } from './failure.js';
import type { EvalCommandFlags } from './eval.js';
import type { GenerateCommandFlags } from './generate.js';
import type { ReproduceFlags } from './reproduce.js';
import type { BenchFlags } from './bench.js';
import type { TrainCommandFlags } from './train.js';
import type { PlotFlags } from './plot.js';
import type { ReportFlags } from './report.js';
import type { AblateFlags } from './ablate.js';
import type { ExportFlags } from './export.js';
import type { ScoreCommandFlags } from './score.js';
import type { ImportFlags } from './import.js';

/**
 * The `rlstm` command line: parsing and printing only; the work is in src/train and src/model. Each
 * command's module is loaded when that command runs: the plotting library alone (Vega) takes ~27 MB,
 * which training and benchmarking should not carry.
 */


function run(action: () => Promise<void>): Promise<void> {
  return action().catch((err: unknown) => {
    const failure = failureLine(err);
    if (failure === null) throw err;
    console.error(failure.line);
    process.exit(failure.status);
  });
}

/**
 * Commander's own errors (an unknown option, a missing value, a choice not offered) as one line, as every
 * other mistake is: `rlstm: unknown option '--epoch' (Did you mean --epochs?); see rlstm train --help`.
 */
function oneLineError(help: string): (text: string, write: (line: string) => void) => void {
  return (text, write) => write(`rlstm: ${text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').replace(/\.$/, '')}; see ${help}\n`);
}

const program = new Command()
  .name('rlstm')
  .description('LSTM language models regularized with dropout on non-recurrent connections (Zaremba et al. 2014)')
  .configureOutput({ outputError: oneLineError('rlstm --help') })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2)); // status 2, as for every user error

program.command('train')
  .description('train a language model (the paper\'s small | medium | large configurations, or quick)')
  .option('--config <name>', 'small | medium | large | quick (default small)')
  .option('--data <dir>', 'folder with ptb.{train,valid,test}.txt or {train,valid,test}.txt (default: the bundled PTB)')
  .option('--train <file>', 'training text (with --valid and --test, instead of --data)')
  .option('--valid <file>', 'validation text')
  .option('--test <file>', 'test text')
  .option('--level <unit>', 'word | char: tokens are words or characters (default word)')
  .option('--vocab-size <K>', 'keep the K-1 most frequent training tokens plus <unk>')
  .option('--layers <n>', 'LSTM layers')
  .option('--hidden <n>', 'hidden units per layer (= embedding size)')
  .option('--keep-prob <p>', 'dropout keep probability in (0, 1]')
  .option('--dropout <p>', 'dropout probability in [0, 1) (PyTorch convention; not with --keep-prob)')
  .option('--dropout-placement <where>', 'none | zaremba | recurrent | variational')
  .option('--layer-norm', 'layer-normalized LSTM (beyond the paper)')
  .option('--weight-decay <lambda>', 'L2 penalty λ/2·||W||² on weight matrices')
  .option('--patience <epochs>', 'early stopping patience in epochs (0 = off)')
  .option('--init <scale>', 'uniform initialization in [-scale, scale]')
  .option('--lr <rate>', 'initial learning rate')
  .option('--decay <factor>', 'learning-rate factor per epoch after --max-epoch')
  .option('--max-epoch <n>', 'epochs at the initial learning rate')
  .option('--epochs <n>', 'epochs in all')
  .option('--clip <norm>', 'maximum global gradient norm')
  .option('--bptt <T>', 'steps per truncated-BPTT window')
  .option('--batch-size <B>', 'sequences per batch')
  .option('--seed <n>', 'random seed (initialization and dropout masks)')
  .option('--max-steps <n>', 'stop after n optimizer steps (0 saves the initial model)')
  .option('--test-batch-size <B>', 'batch size for scoring the test split')
  .option('--test-bptt <T>', 'window length for scoring the test split')
  .option('--time-budget <minutes>', 'stop training after this many minutes')
  .option('--precision <p>', 'fp32 | bf16: bf16 mixed precision, bf16 operands in every product with float32 weights and sums (needs oneDNN and a CPU with bf16; default fp32)')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
  .option('--save <file.safetensors>', 'checkpoint file, written every epoch and at the end (default: next to the log)')
  .option('--log <file.json>', 'JSON log (default runs/<config>-<time>.json)')
  .option('--checkpoint-every <minutes>', 'also write the checkpoint every this many minutes')
  .option('--resume <checkpoint>', 'continue the run saved in this checkpoint (only --max-steps, --time-budget, --backend, --data... may be given)')
  .action((flags: TrainCommandFlags) => run(async () => { await (await import('./train.js')).trainCommand(flags); }));

program.command('eval')
  .description('perplexity of a checkpoint on a split')
  .requiredOption('--checkpoint <file>', 'a checkpoint written by rlstm train')
  .option('--data <dir>', 'data folder (default: the corpus the model was trained on)')
  .option('--train <file>', 'training text (with --valid and --test, instead of --data)')
  .option('--valid <file>', 'validation text')
  .option('--test <file>', 'test text')
  .addOption(new Option('--split <name>', 'valid | test').default('test'))
  .option('--batch-size <B>', 'batch size (default: the checkpoint\'s)')
  .option('--bptt <T>', 'window length (default: the checkpoint\'s)')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
  .option('--json', 'print one JSON line')
  .action((flags: EvalCommandFlags) => run(async () => (await import('./eval.js')).evalCommand(flags)));

program.command('generate')
  .description('sample text from a trained model')
  .requiredOption('--checkpoint <file>', 'a checkpoint written by rlstm train')
  .option('--words <n>', 'how many tokens to sample (default 100)')
  .option('--temperature <t>', 'softmax temperature; 0 = greedy (default 1)')
  .option('--top-k <K>', 'sample only among the K most likely tokens (default: all)')
  .option('--top-p <P>', 'nucleus sampling: only among the most likely tokens that make up probability P (default 1: all)')
  .option('--count <n>', 'how many samples to draw from the prompt (default 1)')
  .option('--seed <n>', 'random seed (default 1)')
  .option('--prompt <text>', 'text to start from')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
  .action((flags: GenerateCommandFlags) => run(async () => (await import('./generate.js')).generateCommand(flags)));

program.command('score')
  .description('per-token log-probability and surprisal, per-line and total perplexity of a text (as eval --batch-size 1 scores a split)')
  .argument('[file]', 'the text to score; - reads standard input')
  .requiredOption('--checkpoint <file>', 'a checkpoint written by rlstm train')
  .option('--text <text>', 'score this text instead of a file')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
  .option('--json', 'print one JSON object (docs/score-json.md)')
  .action((file: string | undefined, flags: ScoreCommandFlags) => run(async () => (await import('./score.js')).scoreCommand(file, flags)));

program.command('reproduce')
  .description('train one of the paper\'s configurations exactly, resumable, keeping a results folder (log, summary, curves)')
  .argument('<config>', 'small | medium | large')
  .option('--out <dir>', 'results folder (default results/<config>)')
  .option('--checkpoint <file>', 'the run\'s checkpoint (default runs/reproduce-<config>.safetensors)')
  .option('--resume', 'continue the run in --checkpoint')
  .option('--max-steps <n>', 'stop this session at step n of the run')
  .option('--time-budget <minutes>', 'stop this session after this many minutes')
  .option('--checkpoint-every <minutes>', 'checkpoint interval (default 10)')
  .option('--precision <p>', 'fp32 | bf16: bf16 mixed precision, bf16 operands in every product with float32 weights and sums (needs oneDNN and a CPU with bf16; default fp32)')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
  .action((name: string, flags: ReproduceFlags) => run(async () => (await import('./reproduce.js')).reproduceCommand(name, flags)));

program.command('bench')
  .description('training and evaluation speed against the GEMM roofline, peak memory, and a step\'s time breakdown')
  .option('--config <name>', 'small | medium | large | quick', 'small')
  .option('--steps <n>', 'training steps to time (default: 40 small, 15 medium, 5 large)')
  .option('--precision <p>', 'fp32 | bf16: bf16 mixed precision, bf16 operands in every product with float32 weights and sums (needs oneDNN and a CPU with bf16; default fp32)')
  .option('--data <dir>', 'corpus folder (default: the bundled PTB)')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
  .option('--json', 'print one JSON line')
  .action((flags: BenchFlags) => run(async () => (await import('./bench.js')).benchCommand(flags)));

program.command('plot')
  .description('learning curves of one or more JSON logs (overlaid), or --weights CKPT: histograms of every parameter tensor')
  .argument('[logs...]', 'JSON logs written by rlstm train --log or rlstm reproduce')
  .option('--weights <checkpoint>', 'plot the parameter histograms of this checkpoint instead')
  .option('--out <file.svg>', 'the SVG to write (default: next to the first log, or CKPT.weights.svg)')
  .option('--epochs <n>', 'only the first n epochs of each log')
  .option('--label <text>', 'the legend name of a log (once per log, in order; default: its file or folder name)',
    (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
  .option('--title <text>', 'the plot\'s title')
  .action((logs: string[], flags: PlotFlags) => run(async () => (await import('./plot.js')).plotCommand(logs, flags)));

program.command('report')
  .description('one self-contained HTML page about a run: configuration, curves, weight histograms, sample text')
  .argument('<run>', 'a run folder holding log.json (as rlstm reproduce writes), or a JSON log')
  .option('--checkpoint <file>', 'the run\'s checkpoint (default: the one its log names, or LOG.safetensors)')
  .option('--out <file.html>', 'the page to write (default RUN/report.html)')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
  .action((runDir: string, flags: ReportFlags) => run(async () => (await import('./report.js')).reportCommand(runDir, flags)));

program.command('export')
  .description('a checkpoint\'s weights and model metadata (no training state) as float16, bfloat16 or float32')
  .requiredOption('--checkpoint <file>', 'a checkpoint written by rlstm train')
  .addOption(new Option('--dtype <type>', 'how to store the weights').choices(['f16', 'bf16', 'f32']).default('f16'))
  .option('--out <file.safetensors>', 'the file to write (default CHECKPOINT.<dtype>.safetensors; an existing one is replaced atomically)')
  .option('--meta <key=value>', 'also record this string in the metadata (repeatable), e.g. --meta commit=abc123',
    (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
  .action((flags: ExportFlags) => run(async () => (await import('./export.js')).exportCommand(flags)));

program.command('import')
  .description('a PyTorch model (the README\'s class: nn.Embedding, nn.LSTM, nn.Linear) saved with safetensors, as an rlstm checkpoint')
  .requiredOption('--state-dict <file.safetensors>', 'the model\'s state_dict, saved with safetensors (float32, float16 or bfloat16)')
  .requiredOption('--vocab <file.txt>', 'the vocabulary: one token per line, in id order (<eos> ends every line of text)')
  .requiredOption('--out <file.safetensors>', 'the checkpoint to write (an existing one is replaced atomically)')
  .addOption(new Option('--level <unit>', 'word | char: what a token of the vocabulary is').default('word'))
  .option('--batch-size <B>', 'the batch size rlstm eval uses for it by default (default 20)')
  .option('--bptt <T>', 'the window length rlstm eval uses for it by default (default 35)')
  .action((flags: ImportFlags) => run(async () => (await import('./import.js')).importCommand(flags)));

program.command('ablate')
  .description('dropout placements and a keep-probability sweep on one architecture, same budget each; resumable')
  .option('--out <dir>', 'results folder: summary.json and SVG plots', 'results/ablation')
  .option('--runs <dir>', 'checkpoints and logs of the runs (rerun the command to continue)', 'runs/ablation')
  .option('--epochs <n>', 'epochs per run (default 8)')
  .option('--budget-minutes <m>', 'also stop each run after m / (number of runs) minutes')
  .option('--hidden <n>', 'hidden units of the 2-layer LSTM (default 200)')
  .option('--train-tokens <n>', 'train on the first n tokens of the training split (default 200000)')
  .option('--precision <p>', 'fp32 | bf16: bf16 mixed precision, bf16 operands in every product with float32 weights and sums (needs oneDNN and a CPU with bf16; default fp32)')
  .option('--data <dir>', 'corpus folder (default: the bundled PTB)')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
  .action((flags: AblateFlags) => run(async () => (await import('./ablate.js')).ablateCommand(flags)));

for (const command of program.commands) command.configureOutput({ outputError: oneLineError(`rlstm ${command.name()} --help`) });

await program.parseAsync(process.argv);
