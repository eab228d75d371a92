/**
 * An error the user caused and can fix: the CLI prints its one-line message (no stack trace) and
 * exits non-zero. The message names the input and says how to fix it.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
