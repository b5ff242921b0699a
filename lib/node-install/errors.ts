/** Errors of the install-manifest facts shared by the runtime installer and the image build. */
import { ContrastError } from '../errors.js';

/** The install manifest (`contrast-node-install.json`) is missing, not JSON or fails validation. */
export class ManifestError extends ContrastError {
  readonly code = 'ERR_MANIFEST';
}
