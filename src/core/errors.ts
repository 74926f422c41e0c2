/**
 * A problem with what the user gave us (a file, a folder, an argument).
 * The CLI prints it as one line and exits with code 2; no stack trace.
 */
export class InputError extends Error {
  readonly file: string;
  readonly problem: string;
  constructor(file: string, problem: string) {
    super(file ? `${file}: ${problem}` : problem);
    this.name = 'InputError';
    this.file = file;
    this.problem = problem;
  }
}

/** A wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
