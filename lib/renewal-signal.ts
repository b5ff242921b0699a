/**
 * The renewal request: how the meshproxy tells the initializer (in renewal mode) that peers fail with an
 * unknown CA, so that it re-attests at once instead of at its next check. A plain file in the shared
 * `/contrast` volume: the meshproxy writes it atomically (one line, the reason), the initializer watches
 * its directory, reads and removes it. Its existence is the request; the content is for the log.
 *
 * Both programs take the path from CONTRAST_RENEWAL_SIGNAL_FILE, by default `renewal-request` beside
 * the TLS directory (`/contrast/renewal-request` for the upstream `/contrast/tls-config`).
 */
import { dirname, join } from 'node:path';

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
