// Errors the program reports to the operator, and the one place secrets are scrubbed.

/** A failure the operator must act on: `message` says what is wrong, `hint` what to do. */
export class TopologyError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'TopologyError';
  }
}

/**
 * The program will not go on, and running it again without a change would end the same way
 * (too little memory, a key too big to move safely, a wrong password): a run does not retry a
 * round after it.
 */
export class Refusal extends TopologyError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'Refusal';
  }
}

/** Bad command line or environment: reported before anything is touched. */
export class UsageError extends Refusal {
  constructor(message: string) {
    super(message, 'run with --help for the command line');
    this.name = 'UsageError';
  }
}

let secrets: string[] = [];

/** Registers a value (the Redis password) that must never appear in output. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length > 0 && !secrets.includes(secret)) secrets.push(secret);
}

/** Replaces every registered secret in `text` with `***`. */
export function redact(text: string): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join('***');
  return result;
}

/** Message of any thrown value, redacted. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return redact(message);
}
