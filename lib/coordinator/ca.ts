/**
 * The Coordinator's CA hierarchy (upstream internal/ca): a root CA (stable across manifests), and a mesh
 * CA key (new per manifest) that appears twice: as an intermediate signed by the root, and as the
 * self-signed mesh CA. Both carry the same name, CN=system:coordinator:intermediate, so a leaf signed
 * by the mesh CA key chains to either. All keys are ECDSA P-384, signatures ecdsa-with-SHA384, 10 years,
 * KeyUsage certSign + digitalSignature, BasicConstraints CA:true.
 */
import 'reflect-metadata';
import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import {
  AuthorityKeyIdentifierExtension, BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension,
  SubjectKeyIdentifierExtension, X509CertificateGenerator,
} from '@peculiar/x509';
import { randomSerial } from '../x509/build-certificate.js';
import { cryptoProvider, ecCurve, KeyTypeError, signingKey, verifyingKey } from '../x509/webcrypto.js';

export const ROOT_CA_NAME = 'CN=system:coordinator:root';
export const INTERMEDIATE_NAME = 'CN=system:coordinator:intermediate';
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

const generateKeyPairAsync = promisify(generateKeyPair);

export async function newP384Key(): Promise<KeyObject> {
  return (await generateKeyPairAsync('ec', { namedCurve: 'P-384' })).privateKey;
}

function requireP384(key: KeyObject, what: string): void {
  if (ecCurve(key, what) !== 'P-384') throw new KeyTypeError(`${what}: expected an ECDSA P-384 key`);
}

async function caCertificate(params: {
  subject: string; issuer: string; subjectKey: KeyObject; issuerKey: KeyObject; now: Date;
}): Promise<Buffer> {
  const subjectPublic = createPublicKey(params.subjectKey);
  const issuerPublic = createPublicKey(params.issuerKey);
  const cert = await X509CertificateGenerator.create({
    serialNumber: randomSerial().toString('hex'),
    subject: params.subject,
    issuer: params.issuer,
    notBefore: new Date(params.now.getTime() - 3600_000),
    notAfter: new Date(params.now.getTime() + TEN_YEARS_MS),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
    publicKey: await verifyingKey(subjectPublic),
    signingKey: await signingKey(params.issuerKey),
    extensions: [
      new BasicConstraintsExtension(true, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.digitalSignature, true),
      await SubjectKeyIdentifierExtension.create(await verifyingKey(subjectPublic), false, cryptoProvider),
      await AuthorityKeyIdentifierExtension.create(await verifyingKey(issuerPublic), false, cryptoProvider),
    ],
  }, cryptoProvider);
  return Buffer.from(cert.rawData);
}

/** Self-signed root CA certificate (DER) for `rootKey`. */
export async function createRootCa(rootKey: KeyObject, now: Date = new Date()): Promise<Buffer> {
  requireP384(rootKey, 'root CA key');
  return caCertificate({ subject: ROOT_CA_NAME, issuer: ROOT_CA_NAME, subjectKey: rootKey, issuerKey: rootKey, now });
}

export interface MeshCa {
  /** Self-signed mesh CA certificate (DER). */
  readonly meshCACert: Buffer;
  /** The same key and name, signed by the root (DER). */
  readonly intermediateCert: Buffer;
}

export async function createMeshCa(rootKey: KeyObject, meshCAKey: KeyObject, now: Date = new Date()): Promise<MeshCa> {
  requireP384(rootKey, 'root CA key');
  requireP384(meshCAKey, 'mesh CA key');
  const meshCACert = await caCertificate({ subject: INTERMEDIATE_NAME, issuer: INTERMEDIATE_NAME, subjectKey: meshCAKey, issuerKey: meshCAKey, now });
  const intermediateCert = await caCertificate({ subject: INTERMEDIATE_NAME, issuer: ROOT_CA_NAME, subjectKey: meshCAKey, issuerKey: rootKey, now });
  return { meshCACert, intermediateCert };
}
