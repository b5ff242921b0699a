/**
 * The root of every error this suite throws on purpose.
 *
 * Each area keeps its own catalogue (`lib/attestation/errors.ts`, `meshproxy/errors.ts`, ...) of
 * subclasses with a stable `code`. Tests assert on `code`, operators read `message`, which names the
 * offending input and what was expected. Causes are chained with `{ cause }`.
 */
export abstract class ContrastError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One line per problem, each `NAME=value: expected ...`. Exit status 64 (EX_USAGE). */
export class ConfigError extends ContrastError {
  readonly code = 'ERR_CONFIG';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? (problems[0] ?? '')
        : `${problems.length} configuration problems:\n  ${problems.join('\n  ')}`,
    );
    this.problems = problems;
  }
}

/** The `code` of an error if it has a string one (ours, Node's, the addon's), else undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `err` itself when it is an Error, else an Error whose message is its string form (`throw 'x'`). */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The message of an Error, else the string form of whatever was thrown (no causes; see describeError). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Adds short context to an error while keeping the original as `cause`: "writing key.pem: EACCES ...". */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const own = err.message || (errorCode(err) ?? err.name);
    const cause = err.cause === undefined ? '' : `: ${describeError(err.cause)}`;
    return own.endsWith(cause) ? own : own + cause;
  }
  return String(err);
}
