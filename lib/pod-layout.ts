/**
 * The pod layout: the shared `/contrast` volume and the file names the initializer writes and the
 * meshproxy, the workload and the development tools read (as upstream lays them out). One home for
 * these names; every program takes them from here.
 *
 *   /contrast/tls-config/{mesh-ca.pem, certChain.pem, key.pem, coordinator-root-ca.pem}
 *   /contrast/secrets/workload-secret-seed
 *   /contrast/renewal-request          (renewal mode: the meshproxy asks the initializer to renew)
 *
 * The renewal request: how the meshproxy tells the initializer (in renewal mode) that peers fail with an
 * unknown CA, so that it re-attests at once instead of at its next check. A plain file in the shared
 * volume: the meshproxy writes it atomically (one line, the reason), the initializer watches its
 * directory, reads and removes it. Its existence is the request; the content is for the log. Both
 * programs take the path from CONTRAST_RENEWAL_SIGNAL_FILE, by default `renewal-request` beside the TLS
 * directory.
 */
import { dirname, join } from 'node:path';

/** The volume the init container and the sidecar share with the workload. */
export const CONTRAST_DIR = '/contrast';
export const DEFAULT_TLS_DIR = `${CONTRAST_DIR}/tls-config`;
export const DEFAULT_SECRETS_DIR = `${CONTRAST_DIR}/secrets`;

/** Files of the TLS directory. */
export const TLS_FILES = Object.freeze({
  meshCA: 'mesh-ca.pem',
  certChain: 'certChain.pem',
  key: 'key.pem',
  rootCA: 'coordinator-root-ca.pem',
});

/** The file of the secrets directory. */
export const WORKLOAD_SECRET_SEED_FILE = 'workload-secret-seed';

export const RENEWAL_SIGNAL_ENV = 'CONTRAST_RENEWAL_SIGNAL_FILE';
export const RENEWAL_SIGNAL_NAME = 'renewal-request';

/**
 * Files of a TLS directory managed in renewal mode (see initializer/tls-generation.ts): the pointer to
 * the current generation directory and the generation counter.
 */
export const TLS_DATA_LINK = '..data';
export const TLS_GENERATION_FILE = 'generation';

/** The default request file for a TLS directory: `<parent of tlsDir>/renewal-request`. */
export function defaultRenewalSignalFile(tlsDir: string): string {
  return join(dirname(tlsDir), RENEWAL_SIGNAL_NAME);
}
