/**
 * Certificates made with @peculiar/x509 rather than our builder, for the shapes our builder will not
 * make (foreign extensions, other names, other validity): the receiver's checks are fed these.
 */
import 'reflect-metadata';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { X509CertificateGenerator, type Extension } from '@peculiar/x509';
import { cryptoProvider, signingKey, verifyingKey } from '../../../lib/x509/webcrypto.js';

export interface PeculiarCertOptions {
  readonly subject: string;
  /** Default: the subject. */
  readonly issuer?: string;
  /** Default: an hour ago. */
  readonly notBefore?: Date;
  /** Default: in an hour. */
  readonly notAfter?: Date;
  readonly extensions: Extension[];
  /** The certified key and the key that signs; default: one fresh P-256 key for both (self-signed). */
  readonly keys?: { readonly publicKey: KeyObject; readonly signer: KeyObject };
}

/** An ECDSA-with-SHA256 certificate (DER) as the options say. */
export async function peculiarCert(opts: PeculiarCertOptions): Promise<Buffer> {
  let keys = opts.keys;
  if (keys === undefined) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys = { publicKey, signer: privateKey };
  }
  const cert = await X509CertificateGenerator.create(
    {
      subject: opts.subject,
      issuer: opts.issuer ?? opts.subject,
      notBefore: opts.notBefore ?? new Date(Date.now() - 3600_000),
      notAfter: opts.notAfter ?? new Date(Date.now() + 3600_000),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      publicKey: await verifyingKey(keys.publicKey),
      signingKey: await signingKey(keys.signer),
      extensions: opts.extensions,
    },
    cryptoProvider,
  );
  return Buffer.from(cert.rawData);
}
