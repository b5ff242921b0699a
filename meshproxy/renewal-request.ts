/**
 * Asking the initializer for an immediate renewal when peers fail with an unknown CA (a peer's
 * certificate does not chain to any mesh CA we trust: one of us has not renewed after a mesh CA change).
 * The request is the file of lib/pod-layout.ts, written atomically. Only in renewal mode (the TLS
 * directory has a `generation` file: someone reads the request), at most once per MIN_GAP_MS.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../lib/errors.js';
import { writeFileAtomic } from '../lib/fs-atomic.js';
import type { Logger } from '../lib/log.js';
import { TLS_GENERATION_FILE } from '../lib/pod-layout.js';

/** Verification results (ours) and TLS alerts (the peer's) that mean "this CA is not known". */
export const UNKNOWN_CA_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
]);

export const MIN_GAP_MS = 1000;

export interface RenewalRequester {
  /** Call with the failure's code; requests a renewal when it is an unknown-CA failure. */
  failed(code: string | undefined, where: string): void;
}

export function createRenewalRequester(opts: {
  file: string;
  tlsDir: string;
  log: Logger;
  now?: () => number;
}): RenewalRequester {
  const now = opts.now ?? Date.now;
  let last = -Infinity;
  return {
    failed(code, where) {
      if (code === undefined || !UNKNOWN_CA_CODES.has(code) || now() - last < MIN_GAP_MS) return;
      last = now();
      void (async () => {
        try {
          await access(join(opts.tlsDir, TLS_GENERATION_FILE));
        } catch {
          return; // no renewal mode: nobody would read the request
        }
        try {
          await writeFileAtomic(opts.file, `${code} ${where}\n`, { mode: 0o644, skipIfSame: false });
          opts.log.info({ code, peer: where, file: opts.file }, 'peer failed with an unknown CA: renewal requested');
        } catch (err) {
          opts.log.warn({ file: opts.file, err: describeError(err) }, 'requesting a renewal failed');
        }
      })();
    },
  };
}
