/**
 * The attestation documents on the project's protobuf codec (lib/protobuf): decoding a document as its
 * message description, with malformed bytes reported as a DOCUMENT error naming the input.
 */
import { decodeMessage, type MessageDescription } from '../protobuf/message.js';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { errorMessage } from '../errors.js';

export { SNP_ATTESTATION, TDX_QUOTE_V4 } from './document-messages.js';

/** A decoded `uint64` (bigint; absent is 0). */
export function toBigint(v: unknown): bigint {
  return typeof v === 'bigint' ? v : 0n;
}

/** Decodes `bytes` as `desc`; a malformed message becomes a DOCUMENT error naming `what` (the ProtobufError is its cause). */
export function decodeDocumentMessage(
  desc: MessageDescription,
  bytes: Uint8Array,
  what: string,
): Record<string, unknown> {
  try {
    return decodeMessage(desc, bytes);
  } catch (err) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.DOCUMENT,
      `${what}: not a ${desc.name} protobuf message: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}
