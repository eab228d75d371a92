import { formatResult, formatSummary, runExercise } from './harness.js';
import { EXERCISES } from './registry.js';

/**
 * The exercise runner: npm run exercise -- N [--solution]
 * Runs exercise N's checks against the learner's file (or the solution) and prints, for each check,
 * whether it passes and, when not, what was expected, what came out, and a hint.
 * Exit status: 0 when every check passes, 1 when one does not, 2 for a wrong command line.
 */

process.setSourceMapsEnabled(true); // errors in the learner's code point at their .ts lines

function usage(): string {
  return ['usage: npm run exercise -- N [--solution]', '', 'The exercises:',
    ...EXERCISES.map((e) => `  ${e.number}  ${e.title.padEnd(62)} ${e.file}`),
    '', 'N runs exercise N against your file; --solution runs it against exercises/solutions/ instead.'].join('\n');
}

async function main(args: string[]): Promise<number> {
  const solution = args.includes('--solution');
  const rest = args.filter((a) => a !== '--solution');
  if (rest.length === 0 || rest.includes('--help') || rest.includes('-h')) {
    console.log(usage());
    return rest.length === 0 ? 2 : 0;
  }
  const wanted = rest.length === 1 && /^\d+$/.test(rest[0]) ? Number(rest[0]) : NaN;
  const exercise = EXERCISES.find((e) => e.number === wanted);
  if (exercise === undefined) {
    console.error(`exercise: ${rest.join(' ')}: no such exercise; give a number from 1 to ${EXERCISES.length}, for example: npm run exercise -- 1`);
    console.error(usage());
    return 2;
  }
  console.log(`Exercise ${exercise.number}: ${exercise.title}`);
  console.log(solution ? `Checking the solution, ${exercise.solutionFile}` : `Checking your file, ${exercise.file}`);
  if (exercise.note !== undefined) console.log(exercise.note);
  console.log('');
  const results = await runExercise(exercise, solution, (result, index) => console.log(formatResult(result, index)));
  console.log('');
  console.log(formatSummary(exercise, results, solution));
  return results.every((r) => r.status === 'pass') ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
