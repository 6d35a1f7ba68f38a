/** A problem with the batch command line or its inputs (exit code 2, with a usage hint). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
