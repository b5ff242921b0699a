/** The production TeeAccess: native/tee.ts (the addon loads on first ioctl). */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import type { TeeAccess } from './devices.js';

export function nativeTeeAccess(): TeeAccess {
  throw new AttestationError(ATTESTATION_ERROR_CODES.NO_PLATFORM, 'native TEE access is not built in yet');
}
