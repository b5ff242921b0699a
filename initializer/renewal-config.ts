/**
 * Renewal mode's configuration, read at the edge with the rest: CONTRAST_RENEWAL_INTERVAL turns it on;
 * CONTRAST_RENEWAL_AT and CONTRAST_RENEWAL_SIGNAL_FILE tune it and are refused without it (a variable
 * that would be ignored silently is a configuration error).
 */
import type { EnvReader } from '../lib/config.js';
import { defaultRenewalSignalFile, RENEWAL_SIGNAL_ENV } from '../lib/pod-layout.js';

export interface RenewalConfig {
  readonly intervalMs: number;
  /** Fraction of the leaf certificate's lifetime after which it is renewed. */
  readonly at: number;
  /** The meshproxy's request for an immediate renewal (lib/pod-layout.ts). */
  readonly signalFile: string;
}

export const RENEWAL_ENV = Object.freeze({
  interval: 'CONTRAST_RENEWAL_INTERVAL',
  at: 'CONTRAST_RENEWAL_AT',
  signalFile: RENEWAL_SIGNAL_ENV,
});

export const DEFAULT_RENEWAL_AT = 0.66;
/** Shortest interval: a check is an attestation and a Coordinator call. */
export const MIN_RENEWAL_INTERVAL_MS = 1000;

/** Undefined when renewal mode is off (CONTRAST_RENEWAL_INTERVAL unset). Problems go into the reader. */
export function readRenewalConfig(reader: EnvReader, tlsDir: string): RenewalConfig | undefined {
  const interval = reader.optional(RENEWAL_ENV.interval);
  const atText = reader.optional(RENEWAL_ENV.at);
  const signalText = reader.optional(RENEWAL_ENV.signalFile);
  if (interval === undefined) {
    for (const [name, value] of [
      [RENEWAL_ENV.at, atText],
      [RENEWAL_ENV.signalFile, signalText],
    ] as const) {
      if (value !== undefined)
        reader.problem(`${name}=${value}: expected only with ${RENEWAL_ENV.interval} (renewal mode)`);
    }
    return undefined;
  }
  const intervalMs = reader.duration(RENEWAL_ENV.interval, '1h', { min: MIN_RENEWAL_INTERVAL_MS });
  let at = DEFAULT_RENEWAL_AT;
  if (atText !== undefined) {
    const n = /^\s*(0?\.\d+|0|1(\.0*)?)\s*$/.test(atText) ? Number(atText) : NaN;
    if (n > 0 && n < 1) at = n;
    else
      reader.problem(
        `${RENEWAL_ENV.at}=${atText}: expected a fraction of the certificate's lifetime above 0 and below 1, such as 0.66`,
      );
  }
  const signalFile = signalText ?? defaultRenewalSignalFile(tlsDir);
  if (!signalFile.startsWith('/')) reader.problem(`${RENEWAL_ENV.signalFile}=${signalFile}: expected an absolute path`);
  return { intervalMs, at, signalFile };
}
