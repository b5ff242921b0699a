/** Error catalogue of the MeshAPI client. Messages say what an operator can do about it. */
import { ContrastError } from '../errors.js';

export type MeshApiErrorCode =
  | 'ERR_MESHAPI_UNAVAILABLE'
  | 'ERR_MESHAPI_PERMISSION_DENIED'
  | 'ERR_ATLS_HANDSHAKE_REJECTED'
  | 'ERR_MESHAPI_TIMEOUT'
  | 'ERR_MESHAPI_MALFORMED'
  | 'ERR_MESHAPI_PROTOCOL'
  | 'ERR_MESHAPI_ATTESTATION_FAILED'
  | 'ERR_MESHAPI_ABORTED'
  | 'ERR_MESHAPI_CALL_FAILED'
  | 'ERR_MESHAPI_LOCAL_SETUP';

export class MeshApiError extends ContrastError {
  readonly code: MeshApiErrorCode;

  constructor(code: MeshApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
