/**
 * A Coordinator's certificate authority in miniature, for tests: root, mesh CA and intermediate as in
 * the upstream profile (P-384, ecdsa-with-SHA384), issuing leaf certificates for a given public key.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, hkdfSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import type { MeshCerts } from '../../../initializer/mesh-response.js';

const EC384 = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;

export interface LocalCA {
  readonly meshCAPem: string;
  readonly rootPem: string;
  readonly intermediatePem: string;
  readonly seed: Buffer;
  readonly salt: Buffer;
  issue(
    publicKey: KeyObject,
    opts?: { workloadSecretId?: string; dnsNames?: string[]; notBefore?: Date; notAfter?: Date },
  ): Promise<MeshCerts>;
  /** A CA unrelated to this one, for "not signed by the mesh CA" cases. */
  signLeafWith(other: LocalCA, publicKey: KeyObject): Promise<string>;
  readonly keys: webcrypto.CryptoKeyPair;
}

/** `state`: the Coordinator's secret seed and salt (default random), so that restarts derive the same workload secrets. */
export async function createLocalCA(state: { seed?: Buffer; salt?: Buffer } = {}): Promise<LocalCA> {
  x509.cryptoProvider.set(webcrypto as never);
  const subtle = webcrypto.subtle;
  const rootKeys = await subtle.generateKey(EC384, true, ['sign', 'verify']);
  const meshKeys = await subtle.generateKey(EC384, true, ['sign', 'verify']);
  const now = Date.now();
  const caExtensions = (keys: webcrypto.CryptoKeyPair): Promise<x509.Extension[]> =>
    x509.SubjectKeyIdentifierExtension.create(keys.publicKey).then((ski) => [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true),
      ski,
    ]);
  const notBefore = new Date(now - 3600_000);
  const notAfter = new Date(now + 10 * 365 * 86400_000);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=system:coordinator:root',
    notBefore,
    notAfter,
    keys: rootKeys,
    signingAlgorithm: EC384,
    extensions: await caExtensions(rootKeys),
  });
  const meshCA = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=system:coordinator:intermediate',
    notBefore,
    notAfter,
    keys: meshKeys,
    signingAlgorithm: EC384,
    extensions: await caExtensions(meshKeys),
  });
  const intermediate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=system:coordinator:intermediate',
    issuer: root.subject,
    notBefore,
    notAfter,
    publicKey: meshKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: EC384,
    extensions: await caExtensions(meshKeys),
  });
  const seed = state.seed ?? randomBytes(64);
  const salt = state.salt ?? randomBytes(32);

  async function leafPem(
    signer: webcrypto.CryptoKeyPair,
    issuerName: string,
    publicKey: KeyObject,
    dnsNames: string[],
    validity: { notBefore?: Date; notAfter?: Date } = {},
  ): Promise<string> {
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const pub = await subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${dnsNames[0] ?? 'workload'}`,
      issuer: issuerName,
      notBefore: validity.notBefore ?? new Date(Date.now() - 3600_000),
      notAfter: validity.notAfter ?? new Date(Date.now() + 365 * 86400_000),
      publicKey: pub,
      signingKey: signer.privateKey,
      signingAlgorithm: EC384,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))),
      ],
    });
    return leaf.toString('pem') + '\n';
  }

  const ca: LocalCA = {
    meshCAPem: meshCA.toString('pem') + '\n',
    rootPem: root.toString('pem') + '\n',
    intermediatePem: intermediate.toString('pem') + '\n',
    seed,
    salt,
    keys: meshKeys,
    async issue(publicKey, opts = {}) {
      const leaf = await leafPem(meshKeys, meshCA.subject, publicKey, opts.dnsNames ?? ['workload', 'localhost'], opts);
      return {
        meshCACert: Buffer.from(ca.meshCAPem),
        certChain: Buffer.from(leaf + ca.intermediatePem),
        rootCACert: Buffer.from(ca.rootPem),
        workloadSecret:
          opts.workloadSecretId === undefined ? Buffer.alloc(0) : workloadSecret(seed, salt, opts.workloadSecretId),
      };
    },
    async signLeafWith(other, publicKey) {
      return leafPem(other.keys, meshCA.subject, publicKey, ['workload']);
    },
  };
  return ca;
}

/** The upstream derivation (spec §6.2). */
export function workloadSecret(seed: Buffer, salt: Buffer, id: string): Buffer {
  const podStateSeed = Buffer.from(hkdfSync('sha256', seed, salt, 'POD STATE SECRET', 64));
  return Buffer.from(hkdfSync('sha256', podStateSeed, salt, `WORKLOAD SECRET ID: ${id}`, 64));
}

function serial(): string {
  return createHash('sha256')
    .update(randomBytes(16))
    .digest('hex')
    .slice(0, 16)
    .replace(/^[89a-f]/, '1');
}
