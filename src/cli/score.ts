import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { selectBackend } from '../kernels/select.js';
import { scoreText, type TextScore } from '../model/score.js';
import { loadModelFromCheckpoint } from '../train/load.js';
import { checkCheckpointFits } from '../train/memory.js';
import { parseBackend } from './options.js';

export interface ScoreCommandFlags {
  checkpoint: string;
  text?: string;
  json?: boolean;
  backend: string;
}

/**
 * `rlstm score`: per-token log-probability and surprisal, per-line and total perplexity of a text (a FILE,
 * `-` for standard input, or --text), scored as `rlstm eval --batch-size 1` scores a split (model/score.ts).
 */
export async function scoreCommand(file: string | undefined, flags: ScoreCommandFlags): Promise<void> {
  if (file !== undefined && flags.text !== undefined) {
    throw new UserError(`${file} and --text both given; score either a file (or - for standard input) or --text`);
  }
  if (file === undefined && flags.text === undefined) {
    throw new UserError('no text to score; give a FILE, - to read standard input, or --text "..."');
  }
  const backendChoice = parseBackend(flags.backend);
  const source = flags.text !== undefined ? '--text' : file === '-' ? 'standard input' : file!;
  const text = flags.text ?? readText(file!, source);
  checkCheckpointFits(flags.checkpoint);
  const { model, config, vocab } = loadModelFromCheckpoint(flags.checkpoint);
  const backend = selectBackend(backendChoice, (line) => console.error(line));
  const score = scoreText(backend, model, vocab, config.level ?? 'word', text, config.bptt, source);
  if (score.unknown > 0) {
    const listed = score.unknownWords.slice(0, 5).map((w) => JSON.stringify(w)).join(', ');
    const more = score.unknownWords.length > 5 ? ` and ${score.unknownWords.length - 5} more` : '';
    console.error(`note: ${score.unknown} ${score.unknown === 1 ? 'token is' : 'tokens are'} not in the model's vocabulary `
      + `and scored as <unk>: ${listed}${more}`);
  }
  if (flags.json) printJson(flags.checkpoint, score);
  else printTable(score);
}

/** The text of a file, or of standard input for `-`: UTF-8, no NUL bytes (a one-line error otherwise). */
function readText(file: string, source: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : `cannot read it (${code})`;
    throw new UserError(`${source}: ${why}; give a readable text file, - for standard input, or --text "..."`);
  }
  if (bytes.includes(0)) throw new UserError(`${source}: not a text file (it holds NUL bytes); give a UTF-8 text file`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${source}: not valid UTF-8; convert it (for example iconv -t UTF-8) or give a UTF-8 text file`);
  }
}

/** One JSON object (docs/score-json.md, the interface the browser explorer reads). */
function printJson(checkpoint: string, score: TextScore): void {
  console.log(JSON.stringify({
    checkpoint, perplexity: score.perplexity, tokens: score.tokens, unknown: score.unknown, context: score.context,
    lines: score.lines, entries: score.entries,
  }));
}

/**
 * For each line: its text, then one row per scored token (log-probability in nats, surprisal in bits),
 * then its perplexity; at the end the total.
 */
function printTable(score: TextScore): void {
  const out: string[] = [];
  const shown = (e: TextScore['entries'][number]): string => (e.unknown ? `${e.token} (<unk>)` : e.token);
  const width = Math.max(12, score.context.length, ...score.entries.slice(0, 10_000).map((e) => shown(e).length)) + 2;
  let k = 0;
  for (let l = 0; l < score.lines.length; l++) {
    const line = score.lines[l];
    out.push(`line ${l + 1}: ${line.text}`);
    if (l === 0) out.push(`  ${score.context.padEnd(width)}(read first, not scored)`);
    out.push(`  ${'token'.padEnd(width)}${'log-prob'.padStart(10)}${'surprisal'.padStart(12)}`);
    for (; k < score.entries.length && score.entries[k].line === l; k++) {
      const e = score.entries[k];
      out.push(`  ${shown(e).padEnd(width)}${e.logProb.toFixed(3).padStart(10)}${`${e.surprisal.toFixed(2)} bits`.padStart(12)}`);
    }
    out.push(line.perplexity === null ? '  line perplexity: none (no token scored)'
      : `  line perplexity ${line.perplexity.toFixed(2)} (${line.tokens} ${line.tokens === 1 ? 'token' : 'tokens'})`);
    if (out.length >= 4096) { process.stdout.write(out.join('\n') + '\n'); out.length = 0; }
  }
  out.push(`perplexity ${score.perplexity.toFixed(2)} (${score.tokens} tokens, ${score.lines.length} `
    + `${score.lines.length === 1 ? 'line' : 'lines'}, ${score.unknown} scored as <unk>)`);
  process.stdout.write(out.join('\n') + '\n');
}
