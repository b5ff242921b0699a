/**
 * The aTLS server (development Coordinator, tests), on node:tls.
 *
 * Per connection: read the ClientHello and take the client nonce from ALPN (else SNI); take a fresh
 * P-256 key (generated one connection ahead, never reused) and create a server certificate (attesting
 * over the client nonce when an issuer is given); create a 32-byte server nonce and a throw-away CA
 * certificate (nonce-ca.ts) whose subject is exactly CN=base64(nonce), so that
 * the CertificateRequest names exactly that CA (TLS 1.3 `certificate_authorities` extension, TLS 1.2
 * list); require a client certificate; check it as a self-signed aTLS certificate and validate its
 * document against SHA-512(SPKI || server nonce). Only then is the connection handed on. Session
 * tickets are disabled. Every decision is logged with its reason.
 */
import { constants as cryptoConstants, type KeyObject } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { Issuer, ValidatedDocument, Validator } from '../attestation/types.js';
import type { Logger } from '../log.js';
import { toPem } from '../x509/pem.js';
import { createAtlsCertificate, inspectAtlsCertificate } from './atls-client-certificate.js';
import { readClientHello } from './atls-client-hello.js';
import { AtlsError } from '../atls/errors.js';
import { createNonceCaCertificate } from './atls-nonce-ca.js';
import { clientNonceFrom, newNonce } from '../atls/nonce.js';
import { reportDataFor } from '../atls/report-data.js';
import { newServerKey, ServerKeyPool, type ServerKey } from './atls-server-keys.js';
import { errorCode, errorMessage, toError } from '../errors.js';

export interface AttestedPeer {
  readonly document: ValidatedDocument;
  /** The attestation extension that validated (OID and raw document bytes). */
  readonly rawDocument: { readonly oid: string; readonly value: Buffer };
  /** The client's SubjectPublicKeyInfo (DER), for which a mesh certificate may be issued. */
  readonly spki: Buffer;
  /** The same key as a KeyObject. */
  readonly publicKey: KeyObject;
  readonly certificate: Buffer;
  readonly nonceChannel: 'alpn' | 'sni';
}

export interface AtlsServerOptions {
  /** Which documents are accepted; at least one. */
  readonly validators: readonly Validator[];
  /** Attests the server to its clients; without it the server certificate has no document. */
  readonly issuer?: Issuer;
  readonly logger: Logger;
  /** From accept to validated client attestation. Default 25 s (upstream). */
  readonly handshakeTimeoutMs?: number;
  /** Default TLSv1.3 (upstream E3); TLSv1.2 for old clients. */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly now?: () => Date;
  /** Receives each connection whose client attestation was accepted. */
  onConnection(socket: TLSSocket, peer: AttestedPeer): void;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 25_000;

/** Validates the first acceptable attestation extension; collects why the others failed. */
async function validateDocuments(
  validators: readonly Validator[],
  documents: ReadonlyArray<{ oid: string; value: Buffer }>,
  expected: Buffer,
): Promise<{ validated: ValidatedDocument; raw: { oid: string; value: Buffer } }> {
  const failures: Error[] = [];
  for (const doc of documents) {
    for (const v of validators.filter((x) => x.oid === doc.oid)) {
      try {
        return { validated: await v.validate(doc.value, expected), raw: doc };
      } catch (err) {
        failures.push(toError(err));
      }
    }
  }
  const first = failures[0];
  if (first === undefined) {
    const offered = documents.map((d) => d.oid).join(', ');
    const accepted = [...new Set(validators.map((v) => `${v.oid} (${v.kind})`))].join(', ');
    throw new AtlsError(
      'ERR_ATLS_DOCUMENT_REJECTED',
      `no validator for the offered attestation document(s) ${offered}; accepted: ${accepted}`,
    );
  }
  throw new AtlsError(
    'ERR_ATLS_DOCUMENT_REJECTED',
    `attestation document rejected: ${failures.map((f) => f.message).join('; ')}`,
    { cause: first },
  );
}

/** Settles with `p`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(toError(err));
      },
    );
  });
}

/**
 * Runs the server side of one connection; resolves once the peer is accepted or turned away. `keys`
 * hands out this connection's server key (default: a fresh one generated now).
 */
export async function handleAtlsConnection(
  socket: Socket,
  options: AtlsServerOptions,
  keys: { take(): Promise<ServerKey> } = { take: newServerKey },
): Promise<void> {
  const log = options.logger;
  const remote = `${socket.remoteAddress ?? '?'}:${String(socket.remotePort ?? '?')}`;
  const abort = new AbortController();
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const timer = setTimeout(() => {
    abort.abort(new AtlsError('ERR_ATLS_HANDSHAKE_TIMEOUT', `aTLS handshake not completed within ${timeoutMs} ms`));
  }, timeoutMs);
  let tlsSocket: TLSSocket | undefined;
  socket.on('error', () => {
    /* reported through the handshake */
  });
  try {
    const { hello, bytes } = await readClientHello(socket, abort.signal);
    const { nonce: clientNonce, channel } = clientNonceFrom(hello.alpn, hello.serverName);
    const serverNonce = newNonce();
    const key = await keys.take();
    const document =
      options.issuer === undefined
        ? undefined
        : {
            oid: options.issuer.oid,
            value: await untilAborted(
              options.issuer.issue(reportDataFor(key.spki, clientNonce), abort.signal),
              abort.signal,
            ),
          };
    const certDer = createAtlsCertificate({
      privateKey: key.privateKey,
      publicKey: key.publicKey,
      spki: key.spki,
      ...(document === undefined ? {} : { document }),
    });
    const context = createSecureContext({
      key: key.privateKeyPem,
      cert: toPem(certDer, 'CERTIFICATE'),
      ca: toPem(
        createNonceCaCertificate({ nonce: serverNonce, privateKey: key.privateKey, spki: key.spki }),
        'CERTIFICATE',
      ),
      minVersion: options.minVersion ?? 'TLSv1.3',
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    });
    log.debug(
      {
        remote,
        clientNonce: clientNonce.toString('hex'),
        nonceChannel: channel,
        serverNonce: serverNonce.toString('hex'),
      },
      'Requesting client attestation',
    );
    socket.unshift(bytes);
    const tlsSock = new TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
    });
    tlsSocket = tlsSock;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        reject(abort.signal.reason as Error);
      };
      abort.signal.addEventListener('abort', onAbort, { once: true });
      tlsSock.once('secure', () => {
        abort.signal.removeEventListener('abort', onAbort);
        resolve();
      });
      tlsSock.once('error', (err: Error) => {
        abort.signal.removeEventListener('abort', onAbort);
        reject(new AtlsError('ERR_ATLS_HANDSHAKE_FAILED', `TLS handshake: ${err.message}`, { cause: err }));
      });
      tlsSock.once('close', () => {
        reject(new AtlsError('ERR_ATLS_CONNECTION_CLOSED', 'client closed the connection during the TLS handshake'));
      });
    });
    const peerCert = tlsSock.getPeerX509Certificate();
    if (peerCert === undefined) throw new AtlsError('ERR_ATLS_NO_CLIENT_CERT', 'client sent no certificate');
    const inspected = inspectAtlsCertificate(peerCert.raw, options.now?.() ?? new Date());
    const { validated, raw } = await untilAborted(
      validateDocuments(options.validators, inspected.documents, reportDataFor(inspected.spki, serverNonce)),
      abort.signal,
    );
    clearTimeout(timer);
    // A standalone server TLSSocket (no tls.Server) never clears this flag; http2 waits on it.
    (tlsSock as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
    tlsSock.removeAllListeners('error');
    tlsSock.removeAllListeners('close');
    log.info(
      {
        remote,
        kind: validated.kind,
        hostData: Buffer.from(validated.hostData).toString('hex'),
        nonceChannel: channel,
        tlsVersion: tlsSock.getProtocol(),
      },
      'Attestation accepted',
    );
    options.onConnection(tlsSock, {
      document: validated,
      rawDocument: raw,
      spki: inspected.spki,
      publicKey: inspected.publicKey,
      certificate: peerCert.raw,
      nonceChannel: channel,
    });
  } catch (err) {
    clearTimeout(timer);
    const reason = errorCode(err) ?? 'ERR_ATLS_HANDSHAKE_FAILED';
    const cause = err instanceof Error ? errorCode(err.cause) : undefined;
    log.warn(
      { remote, reason, ...(cause === undefined ? {} : { detail: cause }), err: errorMessage(err) },
      'Attestation rejected',
    );
    tlsSocket?.destroy();
    socket.destroy();
  }
}

/** A TCP server running the aTLS server handshake on each connection. */
export function createAtlsServer(options: AtlsServerOptions): Server {
  if (options.validators.length === 0)
    throw new AtlsError('ERR_ATLS_DOCUMENT_REJECTED', 'aTLS server: expected at least one validator');
  const keys = new ServerKeyPool();
  return createServer({ pauseOnConnect: true }, (socket) => {
    void handleAtlsConnection(socket, options, keys);
  });
}
