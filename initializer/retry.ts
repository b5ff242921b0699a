/**
 * The patient part: try until an attempt succeeds. Each failure logs one WARN line with a reason an
 * operator can act on; then the loop waits the full interval (measured from the failure, so slow
 * failures are never retried back to back, unlike a ticker). An abort (SIGTERM/SIGINT) ends an attempt
 * or the wait at once with an InterruptedError. A permanent failure (a broken installation, such as a
 * missing native addon) is not retried: it is thrown for the caller's one ERROR line. Each attempt also has its own time budget, so a
 * Coordinator that accepts but never answers cannot stall the pod forever.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../lib/log.js';
import { AttemptTimeoutError, InterruptedError } from './errors.js';
import { failureReason, isPermanentFailure } from './failure-reason.js';
import { errorCode } from '../lib/errors.js';

export type Attempt<T> = (signal: AbortSignal) => Promise<T>;

export interface RetryOptions {
  readonly intervalMs: number;
  /** Budget for one attempt; it is aborted with ERR_INIT_ATTEMPT_TIMEOUT after this long. */
  readonly attemptTimeoutMs: number;
  /** Aborting it ends the loop with InterruptedError. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Named in reasons, e.g. `coordinator:7777`. */
  readonly target: string;
}

export interface RetryResult<T> {
  readonly value: T;
  readonly attempts: number;
}

export async function retryUntilSuccess<T>(attempt: Attempt<T>, opts: RetryOptions): Promise<RetryResult<T>> {
  for (let n = 1; ; n++) {
    throwIfInterrupted(opts.signal);
    try {
      return { value: await runAttempt(attempt, opts), attempts: n };
    } catch (err) {
      if (opts.signal.aborted) throw interrupted(opts.signal);
      if (isPermanentFailure(err)) throw err;
      opts.logger.warn(
        { err: failureReason(err, opts.target), code: errorCode(err), attempt: n, retryInMs: opts.intervalMs },
        'Requesting cert',
      );
    }
    opts.logger.debug({ retryInMs: opts.intervalMs }, 'Waiting for retry');
    try {
      await sleep(opts.intervalMs, undefined, { signal: opts.signal });
    } catch {
      throw interrupted(opts.signal);
    }
  }
}

/** Runs one attempt under its own signal and budget; settles at once on abort even if the attempt ignores it. */
export async function runAttempt<T>(attempt: Attempt<T>, opts: RetryOptions): Promise<T> {
  const controller = new AbortController();
  let rejectEarly: (err: unknown) => void = () => undefined;
  const early = new Promise<never>((_, reject) => {
    rejectEarly = reject;
  });
  const onAbort = (): void => {
    controller.abort(opts.signal.reason);
    rejectEarly(opts.signal.reason);
  };
  const timer = setTimeout(() => {
    const err = new AttemptTimeoutError(opts.attemptTimeoutMs);
    controller.abort(err);
    rejectEarly(err);
  }, opts.attemptTimeoutMs);
  opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([attempt(controller.signal), early]);
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
    controller.abort();
  }
}

function throwIfInterrupted(signal: AbortSignal): void {
  if (signal.aborted) throw interrupted(signal);
}

/** The signal's reason ("received SIGTERM") says it all; the aborted attempt's error is noise. */
function interrupted(signal: AbortSignal): InterruptedError {
  const reason: unknown = signal.reason;
  const what = typeof reason === 'string' ? reason : reason instanceof Error ? reason.message : 'aborted';
  return new InterruptedError(what);
}
