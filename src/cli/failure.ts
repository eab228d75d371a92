import { UserError, WriteError } from '../errors.js';

/**
 * What the command line prints when a command fails, and its exit status: a UserError (the command
 * line is wrong; status 2), a WriteError (a file could not be written; status 1), or memory that ran
 * out while allocating (status 1). Anything else is a bug: null, and it is shown with its stack.
 */
export function failureLine(err: unknown): { line: string; status: number } | null {
  if (err instanceof UserError) return { line: `rlstm: ${err.message}`, status: 2 };
  if (err instanceof WriteError) return { line: `rlstm: ${err.message}`, status: 1 };
  // V8's words for an ArrayBuffer it could not get, and for a typed array longer than it allows
  if (err instanceof RangeError && /allocation failed|Invalid (typed )?array( buffer)? length/i.test(err.message)) {
    return {
      line: `rlstm: out of memory (${err.message}); lower --hidden, --batch-size, --bptt or --vocab-size, or free some memory`,
      status: 1,
    };
  }
  return null;
}
