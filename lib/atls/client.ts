/**
 * The aTLS client: a fresh 32-byte nonce per connection (ALPN `atls:v1:nonce:<hex>` before `h2`, and
 * SNI = base64), and, when the server's CertificateRequest arrives, an attestation document over
 * SHA-512(SPKI || server nonce) in a self-signed certificate for the caller's long-lived key.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Issuer } from '../attestation/types.js';
import { type Logger, silentLogger } from '../log.js';
import { createAtlsCertificate } from './issue-certificate.js';
import { AtlsError } from './errors.js';
import { newNonce, nonceAlpn, nonceSni, serverNonceFrom } from './nonce.js';
import { reportDataFor, spkiDer } from './report-data.js';
import { tlsConnect, type TlsClientStream, type TlsConnectOptions } from './tls-client.js';
import { tlsGroupName } from '../tls-groups.js';
import { errorMessage } from '../errors.js';

/** The TLS options pass through to tlsConnect; `groups` is CONTRAST_TLS_GROUPS (lib/tls-groups.ts). */
export interface AtlsClientOptions extends Pick<
  TlsConnectOptions,
  'minVersion' | 'maxVersion' | 'groups' | 'timeoutMs' | 'signal'
> {
  readonly issuer: Issuer;
  /** P-256 key of the client certificate (the workload key, reused across attempts). */
  readonly privateKey: KeyObject;
  /** Application protocols after the nonce protocol; default ['h2']. */
  readonly alpn?: readonly string[];
  readonly logger?: Logger;
  /** Overrides the fresh random nonce (tests). */
  readonly nonce?: Uint8Array;
}

/** Runs the aTLS client handshake over a connected socket; resolves with the plaintext stream. */
export async function atlsConnect(socket: Socket, options: AtlsClientOptions): Promise<TlsClientStream> {
  const log = options.logger ?? silentLogger();
  const nonce = options.nonce ?? newNonce();
  const publicKey = createPublicKey(options.privateKey);
  const spki = spkiDer(publicKey);
  const keyDer = options.privateKey.export({ type: 'pkcs8', format: 'der' });
  const stream = await tlsConnect(socket, {
    serverName: nonceSni(nonce),
    alpn: [nonceAlpn(nonce), ...(options.alpn ?? ['h2'])],
    ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
    ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
    ...(options.groups === undefined ? {} : { groups: options.groups }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    async onCertificateRequest(caNames) {
      const serverNonce = serverNonceFrom(caNames);
      const reportData = reportDataFor(spki, serverNonce);
      log.debug(
        { serverNonce: serverNonce.toString('hex'), kind: options.issuer.kind },
        'Issuing attestation document for the server nonce',
      );
      let document: Uint8Array;
      try {
        document = await options.issuer.issue(reportData, options.signal);
      } catch (err) {
        throw new AtlsError(
          'ERR_ATLS_ISSUE_FAILED',
          `issuing ${options.issuer.kind} attestation document: ${errorMessage(err)}`,
          { cause: err },
        );
      }
      const certificate = createAtlsCertificate({
        privateKey: options.privateKey,
        publicKey,
        document: { oid: options.issuer.oid, value: document },
      });
      return { certificate, key: keyDer };
    },
  });
  log.debug(
    {
      version: stream.tlsInfo.version,
      group: stream.tlsInfo.group === null ? null : tlsGroupName(stream.tlsInfo.group),
      alpn: stream.tlsInfo.alpn,
      certificateRequested: stream.tlsInfo.certificateRequested,
    },
    'aTLS handshake done',
  );
  return stream;
}
