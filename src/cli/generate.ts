import { selectBackend } from '../kernels/select.js';
import { encodePrompt, formatTokens, generateSamples, promptTokens } from '../model/generate.js';
import { loadModelFromCheckpoint } from '../train/load.js';
import { checkCheckpointFits } from '../train/memory.js';
import { parseBackend, parseFlag } from './options.js';

export interface GenerateCommandFlags {
  checkpoint: string;
  words?: string;
  temperature?: string;
  topK?: string;
  topP?: string;
  count?: string;
  seed?: string;
  prompt?: string;
  backend: string;
}

const DEFAULT_TOKENS = 100;
const DEFAULT_TEMPERATURE = 1;
const DEFAULT_SEED = 1;

/**
 * `rlstm generate`: prints the prompt followed by `--words` sampled tokens (words, or characters); with
 * --count N, N such samples, each under a `# sample i` line.
 */
export async function generateCommand(flags: GenerateCommandFlags): Promise<void> {
  const count = flags.words === undefined ? DEFAULT_TOKENS : parseFlag('--words', flags.words);
  const temperature = flags.temperature === undefined ? DEFAULT_TEMPERATURE : parseFlag('--temperature', flags.temperature);
  const seed = flags.seed === undefined ? DEFAULT_SEED : parseFlag('--seed', flags.seed);
  const topK = flags.topK === undefined ? null : parseFlag('--top-k', flags.topK);
  const topP = flags.topP === undefined ? null : parseFlag('--top-p', flags.topP);
  const samples = flags.count === undefined ? 1 : parseFlag('--count', flags.count);
  const backendChoice = parseBackend(flags.backend);

  checkCheckpointFits(flags.checkpoint);
  const { model, config, vocab } = loadModelFromCheckpoint(flags.checkpoint);
  const level = config.level ?? 'word'; // checkpoints written before character models have no level
  const prompt = promptTokens(flags.prompt ?? '', level);
  const { ids, unknown } = encodePrompt(prompt, vocab);
  if (unknown.length > 0) {
    console.error(`warning: not in the vocabulary, used <unk> for: ${unknown.map((t) => JSON.stringify(t)).join(', ')}`);
  }
  // the backend once the inputs are checked: a mistake prints one line even where BLAS's note would come first
  const backend = selectBackend(backendChoice, (line) => console.error(line));
  const all = generateSamples(backend, model, vocab, { count, temperature, seed, prompt: ids, topK, topP }, samples);
  for (const [k, generated] of all.entries()) {
    const text = formatTokens([...prompt, ...generated.map((id) => vocab.words[id])], level);
    process.stdout.write((samples > 1 ? `# sample ${k + 1}\n` : '') + (text.endsWith('\n') ? text : text + '\n'));
  }
}
