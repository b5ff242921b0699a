/**
 * Turns a failed attempt into one sentence an operator can act on: what happened and what to check.
 * Codes come from lib/meshapi (MeshApiError) and this area's catalogue.
 */
import { describeError, errorCode } from '../lib/errors.js';

const HINTS: Readonly<Record<string, string>> = Object.freeze({
  ERR_MESHAPI_UNAVAILABLE: 'check that the Coordinator is running and that COORDINATOR_HOST points to it',
  ERR_MESHAPI_PERMISSION_DENIED:
    "the Coordinator's manifest has no policy for this pod's host data; set a manifest that contains it",
  ERR_ATLS_HANDSHAKE_REJECTED:
    "the Coordinator rejected this pod's attestation; check that a manifest is set and that its reference values match this platform",
  ERR_MESHAPI_TIMEOUT: 'the Coordinator did not answer in time; check its load and the network path',
  ERR_INIT_ATTEMPT_TIMEOUT: 'the Coordinator did not answer in time; check its load and the network path',
  ERR_MESHAPI_ATTESTATION_FAILED:
    'this pod could not produce its attestation document; check the TEE device and CONTRAST_ATTESTATION',
  ERR_MESHAPI_CALL_FAILED: "check the Coordinator's version and its logs",
  ERR_MESHAPI_MALFORMED: 'the Coordinator sent a malformed answer; check that its version speaks the MeshAPI',
  ERR_MESHAPI_PROTOCOL: 'the Coordinator broke the gRPC protocol; check that its version speaks the MeshAPI',
  ERR_INIT_RESPONSE_INVALID:
    'the Coordinator sent certificates this pod cannot use; check the Coordinator version and its logs',
});

/**
 * Failures that no retry can mend: the installation itself is broken. They end the loop with one
 * ERROR line instead of a WARN line every interval forever.
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set(['ERR_NATIVE_ADDON_NOT_FOUND']);

/** True when `err` or one of its causes carries a permanent code. */
export function isPermanentFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const code = errorCode(e);
    if (code !== undefined && PERMANENT_CODES.has(code)) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/** `<what happened> (<hint>)`, e.g. for a WARN line's `err` field. */
export function failureReason(err: unknown, target: string): string {
  const code = errorCode(err);
  const hint = code === undefined ? undefined : HINTS[code];
  const what = describe(err);
  const where = what.includes(target) ? what : `${target}: ${what}`;
  return hint === undefined ? where : `${where} (${hint})`;
}

/**
 * The error's message with its causes, skipping a cause whose text the message already carries
 * (gRPC errors repeat themselves as `14 UNAVAILABLE: <same text>`).
 */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return describeError(err);
  let text = err.message || err.name;
  let cause: unknown = err.cause;
  for (let depth = 0; cause !== undefined && depth < 8; depth++) {
    const own = cause instanceof Error ? cause.message.replace(/^\d+ [A-Z_]+: /, '') : describeError(cause);
    if (own !== '' && !text.includes(own)) text += `: ${own}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}
