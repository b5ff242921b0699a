/**
 * The Coordinator's CA hierarchy (upstream internal/ca): a root CA (stable across manifests), and a mesh
 * CA key (new per manifest) that appears twice: as an intermediate signed by the root, and as the
 * self-signed mesh CA. Both carry the same name, CN=system:coordinator:intermediate, so a leaf signed
 * by the mesh CA key chains to either. All keys are ECDSA P-384, signatures ecdsa-with-SHA384, 10 years,
 * KeyUsage certSign + digitalSignature, BasicConstraints CA:true.
 */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { buildCertificate } from '../x509/build-certificate.js';
import { ecCurve, KeyTypeError } from '../x509/webcrypto.js';

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

/** A CA certificate written by lib/x509/build-certificate.ts; names are `CN=...` strings. */
function caCertificate(params: {
  subject: string;
  issuer: string;
  subjectKey: KeyObject;
  issuerKey: KeyObject;
  now: Date;
}): Buffer {
  const cn = (name: string): string => name.slice('CN='.length);
  return buildCertificate({
    subject: cn(params.subject),
    issuer: cn(params.issuer),
    notBefore: new Date(params.now.getTime() - 3600_000),
    notAfter: new Date(params.now.getTime() + TEN_YEARS_MS),
    publicKey: params.subjectKey,
    signingKey: params.issuerKey,
    hash: 'sha384',
    keyUsage: ['digitalSignature', 'keyCertSign'],
    basicConstraints: { ca: true },
    subjectKeyIdentifier: true,
    authorityKeyIdentifier: true,
  });
}

/** Self-signed root CA certificate (DER) for `rootKey`. */
export function createRootCa(rootKey: KeyObject, now: Date = new Date()): Buffer {
  requireP384(rootKey, 'root CA key');
  return caCertificate({ subject: ROOT_CA_NAME, issuer: ROOT_CA_NAME, subjectKey: rootKey, issuerKey: rootKey, now });
}

export interface MeshCa {
  /** Self-signed mesh CA certificate (DER). */
  readonly meshCACert: Buffer;
  /** The same key and name, signed by the root (DER). */
  readonly intermediateCert: Buffer;
}

export function createMeshCa(rootKey: KeyObject, meshCAKey: KeyObject, now: Date = new Date()): MeshCa {
  requireP384(rootKey, 'root CA key');
  requireP384(meshCAKey, 'mesh CA key');
  const meshCACert = caCertificate({
    subject: INTERMEDIATE_NAME,
    issuer: INTERMEDIATE_NAME,
    subjectKey: meshCAKey,
    issuerKey: meshCAKey,
    now,
  });
  const intermediateCert = caCertificate({
    subject: INTERMEDIATE_NAME,
    issuer: ROOT_CA_NAME,
    subjectKey: meshCAKey,
    issuerKey: rootKey,
    now,
  });
  return { meshCACert, intermediateCert };
}
