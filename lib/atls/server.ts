/**
 * The aTLS server (development Coordinator, tests), on node:tls.
 *
 * Per connection: read the ClientHello and take the client nonce from ALPN (else SNI); create a fresh
 * P-256 key and a server certificate (attesting over the client nonce when an issuer is given); create a
 * 32-byte server nonce and a throw-away CA certificate whose subject is exactly CN=base64(nonce), so that
 * the CertificateRequest names exactly that CA (TLS 1.3 `certificate_authorities` extension, TLS 1.2
 * list); require a client certificate; check it as a self-signed aTLS certificate and validate its
 * document against SHA-512(SPKI || server nonce). Only then is the connection handed on. Session
 * tickets are disabled. Every decision is logged with its reason.
 */
import 'reflect-metadata';
import { constants as cryptoConstants, generateKeyPair, type KeyObject } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { Name, X509CertificateGenerator } from '@peculiar/x509';
import type { Issuer, ValidatedDocument, Validator } from '../attestation/types.js';
import type { Logger } from '../log.js';
import { toPem } from '../pki/pem.js';
import { cryptoProvider, signingKey, verifyingKey } from '../pki/webcrypto.js';
import { createAtlsCertificate, inspectAtlsCertificate, randomSerialHex } from './certificate.js';
import { readClientHello } from './client-hello.js';
import { AtlsError, errorCode } from './errors.js';
import { clientNonceFrom, newNonce } from './nonce.js';
import { reportDataFor, spkiDer } from './report-data.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface AttestedPeer {
  readonly document: ValidatedDocument;
  /** The client's SubjectPublicKeyInfo (DER), for which a mesh certificate may be issued. */
  readonly spki: Buffer;
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

/** The throw-away certificate whose subject carries the server nonce to the client. */
async function nonceCaPem(nonce: Buffer, privateKey: KeyObject, publicKey: KeyObject): Promise<string> {
  const name = new Name([{ '2.5.4.3': [{ printableString: nonce.toString('base64') }] }]);
  const cert = await X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: name,
    issuer: name,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: await verifyingKey(publicKey),
    signingKey: await signingKey(privateKey),
  }, cryptoProvider);
  return toPem(new Uint8Array(cert.rawData), 'CERTIFICATE');
}

/** Validates the first acceptable attestation extension; collects why the others failed. */
async function validateDocuments(validators: readonly Validator[], documents: ReadonlyArray<{ oid: string; value: Buffer }>, expected: Buffer): Promise<ValidatedDocument> {
  const failures: Error[] = [];
  for (const doc of documents) {
    for (const v of validators.filter((x) => x.oid === doc.oid)) {
      try {
        return await v.validate(doc.value, expected);
      } catch (err) {
        failures.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
  const first = failures[0];
  if (first === undefined) {
    const offered = documents.map((d) => d.oid).join(', ');
    const accepted = [...new Set(validators.map((v) => `${v.oid} (${v.kind})`))].join(', ');
    throw new AtlsError('ERR_ATLS_DOCUMENT_REJECTED', `no validator for the offered attestation document(s) ${offered}; accepted: ${accepted}`);
  }
  throw new AtlsError('ERR_ATLS_DOCUMENT_REJECTED', `attestation document rejected: ${failures.map((f) => f.message).join('; ')}`, { cause: first });
}

/** Runs the server side of one connection; resolves once the peer is accepted or turned away. */
export async function handleAtlsConnection(socket: Socket, options: AtlsServerOptions): Promise<void> {
  const log = options.logger;
  const remote = `${socket.remoteAddress ?? '?'}:${String(socket.remotePort ?? '?')}`;
  const abort = new AbortController();
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const timer = setTimeout(() => { abort.abort(new AtlsError('ERR_ATLS_HANDSHAKE_TIMEOUT', `aTLS handshake not completed within ${timeoutMs} ms`)); }, timeoutMs);
  let tlsSocket: TLSSocket | undefined;
  socket.on('error', () => { /* reported through the handshake */ });
  try {
    const { hello, bytes } = await readClientHello(socket, abort.signal);
    const { nonce: clientNonce, channel } = clientNonceFrom(hello.alpn, hello.serverName);
    const serverNonce = newNonce();
    const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    const document = options.issuer === undefined
      ? undefined
      : { oid: options.issuer.oid, value: await options.issuer.issue(reportDataFor(spkiDer(publicKey), clientNonce), abort.signal) };
    const certDer = await createAtlsCertificate({ privateKey, publicKey, ...(document === undefined ? {} : { document }) });
    const context = createSecureContext({
      key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      cert: toPem(certDer, 'CERTIFICATE'),
      ca: await nonceCaPem(serverNonce, privateKey, publicKey),
      minVersion: options.minVersion ?? 'TLSv1.3',
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    });
    log.debug({ remote, clientNonce: clientNonce.toString('hex'), nonceChannel: channel, serverNonce: serverNonce.toString('hex') }, 'Requesting client attestation');
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
      const onAbort = (): void => { reject(abort.signal.reason as Error); };
      abort.signal.addEventListener('abort', onAbort, { once: true });
      tlsSock.once('secure', () => { abort.signal.removeEventListener('abort', onAbort); resolve(); });
      tlsSock.once('error', (err: Error) => {
        abort.signal.removeEventListener('abort', onAbort);
        reject(new AtlsError('ERR_ATLS_HANDSHAKE_FAILED', `TLS handshake: ${err.message}`, { cause: err }));
      });
      tlsSock.once('close', () => { reject(new AtlsError('ERR_ATLS_CONNECTION_CLOSED', 'client closed the connection during the TLS handshake')); });
    });
    const peerCert = tlsSock.getPeerX509Certificate();
    if (peerCert === undefined) throw new AtlsError('ERR_ATLS_NO_CLIENT_CERT', 'client sent no certificate');
    const inspected = inspectAtlsCertificate(peerCert.raw, options.now?.() ?? new Date());
    const validated = await validateDocuments(options.validators, inspected.documents, reportDataFor(inspected.spki, serverNonce));
    if (abort.signal.aborted) throw abort.signal.reason as Error;
    clearTimeout(timer);
    // A standalone server TLSSocket (no tls.Server) never clears this flag; http2 waits on it.
    (tlsSock as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
    tlsSock.removeAllListeners('error');
    tlsSock.removeAllListeners('close');
    log.info({ remote, kind: validated.kind, hostData: Buffer.from(validated.hostData).toString('hex'), nonceChannel: channel, tlsVersion: tlsSock.getProtocol() }, 'Attestation accepted');
    options.onConnection(tlsSock, { document: validated, spki: inspected.spki, certificate: peerCert.raw, nonceChannel: channel });
  } catch (err) {
    clearTimeout(timer);
    const reason = errorCode(err) ?? 'ERR_ATLS_HANDSHAKE_FAILED';
    const cause = err instanceof Error ? errorCode(err.cause) : undefined;
    log.warn({ remote, reason, ...(cause === undefined ? {} : { detail: cause }), err: err instanceof Error ? err.message : String(err) }, 'Attestation rejected');
    tlsSocket?.destroy();
    socket.destroy();
  }
}

/** A TCP server running the aTLS server handshake on each connection. */
export function createAtlsServer(options: AtlsServerOptions): Server {
  if (options.validators.length === 0) throw new AtlsError('ERR_ATLS_DOCUMENT_REJECTED', 'aTLS server: expected at least one validator');
  return createServer({ pauseOnConnect: true }, (socket) => {
    void handleAtlsConnection(socket, options);
  });
}
