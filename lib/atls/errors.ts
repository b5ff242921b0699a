/**
 * Error catalogue of attested TLS. Client-side codes describe what the connection saw; server-side
 * codes are the reasons a client's attestation was rejected (logged by the server, one per cause).
 */
import { ContrastError } from '../errors.js';

export type AtlsErrorCode =
  // client side: transport and handshake
  | 'ERR_ATLS_HANDSHAKE_TIMEOUT'
  | 'ERR_ATLS_HANDSHAKE_FAILED'
  | 'ERR_ATLS_REJECTED'
  | 'ERR_ATLS_CONNECTION_CLOSED'
  | 'ERR_ATLS_CONNECTION_RESET'
  | 'ERR_ATLS_ALERT'
  | 'ERR_ATLS_ABORTED'
  | 'ERR_ATLS_SERVER_NONCE'
  | 'ERR_ATLS_ISSUE_FAILED'
  // server side: why a client was turned away
  | 'ERR_ATLS_CLIENT_HELLO'
  | 'ERR_ATLS_CLIENT_NONCE'
  | 'ERR_ATLS_NO_CLIENT_CERT'
  | 'ERR_ATLS_CERT_MALFORMED'
  | 'ERR_ATLS_CERT_EXPIRED'
  | 'ERR_ATLS_CERT_NOT_YET_VALID'
  | 'ERR_ATLS_CERT_NOT_SELF_SIGNED'
  | 'ERR_ATLS_CERT_CRITICAL_EXTENSION'
  | 'ERR_ATLS_CERT_EKU'
  | 'ERR_ATLS_NO_DOCUMENT'
  | 'ERR_ATLS_DOCUMENT_REJECTED';

export class AtlsError extends ContrastError {
  readonly code: AtlsErrorCode;

  constructor(code: AtlsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
