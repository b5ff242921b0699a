/**
 * The initializer's error catalogue. Each kind has a stable `code`; messages name the input and what
 * was expected, so that one log line tells an operator what to do.
 */
import { ContrastError } from '../lib/errors.js';

/** The Coordinator's answer failed validation (PEM, key binding, chain); nothing was written. */
export class ResponseInvalidError extends ContrastError {
  readonly code = 'ERR_INIT_RESPONSE_INVALID';
  readonly field: string;

  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super(`Coordinator response field ${field}: ${problem}`, options);
    this.field = field;
  }
}

/** SIGTERM/SIGINT (or another abort) ended the wait for the Coordinator. */
export class InterruptedError extends ContrastError {
  readonly code = 'ERR_INIT_INTERRUPTED';

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`waiting for retry to request cert: ${reason}`, options);
  }
}

/** Writing one of the output files failed. */
export class OutputWriteError extends ContrastError {
  readonly code = 'ERR_INIT_WRITE';
  readonly path: string;

  constructor(path: string, options?: { cause?: unknown }) {
    super(`writing ${path}`, options);
    this.path = path;
  }
}

/** Removing the default-deny inbound rule failed. */
export class DefaultDenyError extends ContrastError {
  readonly code = 'ERR_INIT_DEFAULT_DENY';
}

/** An attempt took longer than the per-attempt budget. */
export class AttemptTimeoutError extends ContrastError {
  readonly code = 'ERR_INIT_ATTEMPT_TIMEOUT';

  constructor(ms: number) {
    super(`no answer from the Coordinator within ${ms} ms`);
  }
}

/**
 * CRYPTSETUP_DEVICE asks for an encrypted persistent volume that this initializer cannot provide. The
 * pod must not start: its application would write to an unencrypted /state.
 */
export class SecureVolumeUnavailableError extends ContrastError {
  readonly code = 'ERR_INIT_SECURE_PV_UNAVAILABLE';
}

export type SecureVolumeErrorCode =
  'ERR_INIT_SECURE_PV_HEADER' | 'ERR_INIT_SECURE_PV_FAILED' | 'ERR_INIT_SECURE_PV_KEY';

/** Setting up the encrypted volume failed: the header check, a command (format, open, mkfs, mount), the key. */
export class SecureVolumeError extends ContrastError {
  readonly code: SecureVolumeErrorCode;

  constructor(code: SecureVolumeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
