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

/**
 * A file could not be written (a full disk, a quota, a read-only or failing disk): the command was right,
 * the machine failed it. The CLI prints the one-line message and exits with status 1. `reason` is the
 * error in words (`ENOSPC: no space left on the device`), `hint` what to do about it.
 */
export class WriteError extends Error {
  constructor(message: string, readonly path: string, readonly reason: string, readonly hint: string) {
    super(message);
    this.name = 'WriteError';
  }
}
