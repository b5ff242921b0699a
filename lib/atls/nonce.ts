/**
 * The two aTLS nonce channels.
 *
 * Client -> server: 32 random bytes, offered both as the first ALPN protocol `atls:v1:nonce:<hex>`
 * (E2+ Coordinators) and as SNI = standard padded base64 (E1 Coordinators). Server -> client: the CN of
 * the single distinguished name in the CertificateRequest's acceptable CA names, base64 of 32 bytes.
 */
import { randomBytes } from 'node:crypto';
import { nameAttributes } from '../x509/der.js';
import { AtlsError } from './errors.js';

export const NONCE_LENGTH = 32;
export const ALPN_NONCE_PREFIX = 'atls:v1:nonce:';
const CN_OID = '2.5.4.3';

export function newNonce(): Buffer {
  return randomBytes(NONCE_LENGTH);
}

/** The ALPN protocol carrying the client nonce. */
export function nonceAlpn(nonce: Uint8Array): string {
  return ALPN_NONCE_PREFIX + Buffer.from(nonce).toString('hex');
}

/** The SNI value carrying the client nonce (E1 servers read only this). */
export function nonceSni(nonce: Uint8Array): string {
  return Buffer.from(nonce).toString('base64');
}

/** Strict standard base64 (padded); undefined when `s` is not exactly that. */
export function decodeBase64Strict(s: string): Buffer | undefined {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const out = Buffer.from(s, 'base64');
  return out.toString('base64') === s ? out : undefined;
}

/**
 * Server side: the client nonce from the offered ALPN protocols, else from the SNI (upstream rules:
 * the first `atls…` protocol must be exactly `atls:v1:nonce:<64 hex>`, no fallback after a bad one).
 */
export function clientNonceFrom(
  alpn: readonly string[],
  serverName: string | undefined,
): { nonce: Buffer; channel: 'alpn' | 'sni' } {
  const atls = alpn.find((p) => p.startsWith('atls'));
  if (atls !== undefined) {
    const hex = atls.startsWith(ALPN_NONCE_PREFIX) ? atls.slice(ALPN_NONCE_PREFIX.length) : undefined;
    if (hex === undefined)
      throw new AtlsError(
        'ERR_ATLS_CLIENT_NONCE',
        `ALPN protocol ${JSON.stringify(atls)}: expected ${ALPN_NONCE_PREFIX}<64 hex digits> (unsupported aTLS version)`,
      );
    if (!/^[0-9a-fA-F]{64}$/.test(hex))
      throw new AtlsError(
        'ERR_ATLS_CLIENT_NONCE',
        `ALPN protocol ${JSON.stringify(atls)}: expected ${NONCE_LENGTH * 2} hex digits after ${ALPN_NONCE_PREFIX}`,
      );
    return { nonce: Buffer.from(hex, 'hex'), channel: 'alpn' };
  }
  if (serverName === undefined || serverName === '') {
    throw new AtlsError('ERR_ATLS_CLIENT_NONCE', 'no nonce in supported protocols or SNI');
  }
  const nonce = decodeBase64Strict(serverName);
  if (nonce === undefined || nonce.length !== NONCE_LENGTH) {
    throw new AtlsError(
      'ERR_ATLS_CLIENT_NONCE',
      `SNI ${JSON.stringify(serverName)}: expected base64 of a ${NONCE_LENGTH}-byte nonce`,
    );
  }
  return { nonce, channel: 'sni' };
}

/** Client side: the server nonce from the CertificateRequest's CA names (DER Names). */
export function serverNonceFrom(caNames: readonly Uint8Array[]): Buffer {
  if (caNames.length !== 1) {
    throw new AtlsError(
      'ERR_ATLS_SERVER_NONCE',
      `unexpected acceptableCAs length: expected exactly 1 CA name in the CertificateRequest, got ${caNames.length}`,
    );
  }
  let cns: string[];
  try {
    cns = nameAttributes(Buffer.from(caNames[0] ?? new Uint8Array()), CN_OID);
  } catch (err) {
    throw new AtlsError('ERR_ATLS_SERVER_NONCE', 'CertificateRequest CA name: expected a DER distinguished name', {
      cause: err,
    });
  }
  const cn = cns[0];
  if (cn === undefined)
    throw new AtlsError(
      'ERR_ATLS_SERVER_NONCE',
      'CertificateRequest CA name: expected a CN attribute carrying the server nonce',
    );
  const nonce = decodeBase64Strict(cn);
  if (nonce === undefined || nonce.length !== NONCE_LENGTH) {
    throw new AtlsError(
      'ERR_ATLS_SERVER_NONCE',
      `CertificateRequest CA name CN=${JSON.stringify(cn)}: expected base64 of a ${NONCE_LENGTH}-byte nonce`,
    );
  }
  return nonce;
}
