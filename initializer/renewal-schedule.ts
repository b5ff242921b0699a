/**
 * When the renewal loop wakes up: pure functions of the clock, the certificate's validity and a random
 * number, so that tests can drive them with any time and any "random" value.
 *
 * - Expiry: at `notBefore + at * (notAfter - notBefore)` (CONTRAST_RENEWAL_AT, default 0.66).
 * - Interval: every CONTRAST_RENEWAL_INTERVAL, shortened by up to JITTER (never lengthened), so that
 *   pods started together do not call the Coordinator together and a check always falls within the
 *   interval.
 * - Backoff after a failed attempt: the retry interval doubled per consecutive failure, up to the
 *   smaller of the renewal interval and MAX_BACKOFF_MS (never below the retry interval), with the
 *   same jitter.
 * Every delay is capped at MAX_TIMER_MS (a timer cannot wait longer); the loop re-evaluates on waking.
 */
import { MAX_TIMER_MS } from '../lib/config.js';

/** Fraction of a delay that jitter may take off. */
export const JITTER = 0.2;
/** Upper bound of the backoff between failed renewal attempts. */
export const MAX_BACKOFF_MS = 5 * 60_000;

export interface RenewalTiming {
  /** CONTRAST_RENEWAL_INTERVAL in ms. */
  readonly intervalMs: number;
  /** CONTRAST_RENEWAL_AT, in (0, 1). */
  readonly at: number;
  /** CONTRAST_RETRY_INTERVAL in ms: the first backoff step. */
  readonly retryIntervalMs: number;
}

export interface Validity {
  /** ms since the epoch */
  readonly notBefore: number;
  readonly notAfter: number;
}

/** The moment (ms since the epoch) the certificate is due for renewal. */
export function renewalDueAt(validity: Validity, at: number): number {
  return validity.notBefore + Math.max(0, validity.notAfter - validity.notBefore) * at;
}

/** `ms` shortened by up to JITTER: `random` in [0, 1). */
export function jittered(ms: number, random: number): number {
  return Math.round(ms * (1 - JITTER * Math.min(Math.max(random, 0), 1)));
}

export type WakeReason = 'expiry' | 'interval';

/** The next regular wake-up: whichever of expiry and the jittered interval comes first. */
export function nextCheck(
  now: number,
  validity: Validity,
  timing: RenewalTiming,
  random: number,
): { delayMs: number; reason: WakeReason } {
  const untilDue = Math.max(0, renewalDueAt(validity, timing.at) - now);
  const interval = jittered(timing.intervalMs, random);
  const [delayMs, reason]: [number, WakeReason] = untilDue <= interval ? [untilDue, 'expiry'] : [interval, 'interval'];
  return { delayMs: Math.min(delayMs, MAX_TIMER_MS), reason };
}

/** The wait after the `failures`-th consecutive failure (1 for the first). */
export function backoff(failures: number, timing: RenewalTiming, random: number): number {
  const cap = Math.max(timing.retryIntervalMs, Math.min(timing.intervalMs, MAX_BACKOFF_MS));
  const exp = Math.min(Math.max(failures, 1) - 1, 30);
  return Math.min(jittered(Math.min(timing.retryIntervalMs * 2 ** exp, cap), random), MAX_TIMER_MS);
}
