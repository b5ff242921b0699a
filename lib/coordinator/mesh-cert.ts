/**
 * The mesh (workload) certificate profile (spec §7.3): for the peer's TLS public key, signed by the
 * mesh CA key (P-384, ecdsa-with-SHA384), issuer CN=system:coordinator:intermediate, subject CN = first
 * DNS SAN, valid now-1h..now+1y, KeyUsage digitalSignature, EKU serverAuth + clientAuth,
 * BasicConstraints CA:false, SANs classified as IP / URI (with a scheme) / DNS, plus optional extra
 * extensions (report claims) and the WorkloadSecretID extension 1.3.9901.3.1.
 *
 * Written as DER by hand and signed with node:crypto (one certificate per NewMeshCert, so no ASN.1
 * library or WebCrypto import on that path), field for field as @peculiar/x509's generator wrote it:
 * names as PrintableString where the value allows it, UTF8String otherwise; extensions in the order
 * KeyUsage (critical), EKU, BasicConstraints (critical, empty), AuthorityKeyIdentifier (SHA-1 of the
 * issuer's public key bits), SubjectAltName (when there are SANs), extras, WorkloadSecretID.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString, boolean, explicit, implicit, octetString, oid, printableString, readChildren, readWhole, sequence, set, TAG,
  time, tlv, unsignedInteger, utf8String,
} from '../x509/der.js';
import { randomSerialHex } from './atls-client-certificate.js';
import { spkiDer } from '../atls/report-data.js';
import { ecCurve, KeyTypeError } from '../x509/webcrypto.js';

export const WORKLOAD_SECRET_ID_OID = '1.3.9901.3.1';
const HOUR_MS = 3600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;
const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const COMMON_NAME = '2.5.4.3';
const INTERMEDIATE_CN = 'system:coordinator:intermediate';
const OID = {
  keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', basicConstraints: '2.5.29.19', authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17', serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export interface MeshCertParams {
  /** The mesh CA key (P-384). */
  readonly issuerKey: KeyObject;
  /** The peer's public key (any type the TLS stack accepts; P-256 for initializers). */
  readonly subjectPublicKey: KeyObject;
  readonly sans: readonly string[];
  readonly workloadSecretID?: string;
  /** Further non-critical extensions, e.g. report claims under 1.3.9901.2.{1,2}.N. */
  readonly extraExtensions?: ReadonlyArray<{ readonly oid: string; readonly value: Uint8Array }>;
  readonly now?: Date;
}

export interface GeneralName {
  readonly type: 'ip' | 'url' | 'dns';
  readonly value: string;
}

/** IP literal -> IP SAN; URL with a scheme -> URI SAN; anything else -> DNS SAN. */
export function classifySan(san: string): GeneralName {
  if (isIP(san) !== 0) return { type: 'ip', value: san };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(san) && URL.canParse(san)) return { type: 'url', value: san };
  return { type: 'dns', value: san };
}

/** The 4 or 16 address bytes of an IP literal (as `isIP` accepts it; a zone suffix is dropped). */
export function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const hextets = (part: string): number[] => part.split(':').filter((g) => g !== '').flatMap((g) => {
    if (!g.includes('.')) return [parseInt(g, 16)];
    const b = ipBytes(g); // trailing dotted IPv4 (e.g. ::ffff:10.0.0.1): two hextets
    return [b.readUInt16BE(0), b.readUInt16BE(2)];
  });
  const [head = '', tail] = ip.replace(/%.*$/, '').split('::');
  const left = hextets(head);
  const right = tail === undefined ? [] : hextets(tail);
  const groups = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => { out.writeUInt16BE(g, i * 2); });
  return out;
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A directory string as the certificate generator chose it: PrintableString if possible, else UTF8String. */
function directoryString(s: string): Buffer {
  return PRINTABLE.test(s) ? printableString(s) : utf8String(s);
}

function commonNameRdn(cn: string): Buffer {
  return set(sequence(oid(COMMON_NAME), directoryString(cn)));
}

function generalName(n: GeneralName): Buffer {
  switch (n.type) {
    case 'ip': return implicit(7, ipBytes(n.value));
    case 'url': return implicit(6, Buffer.from(n.value, 'latin1'));
    case 'dns': return implicit(2, Buffer.from(n.value, 'latin1'));
  }
}

function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey BIT STRING's bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = readChildren(readWhole(spki, TAG.SEQUENCE, 'SubjectPublicKeyInfo').content);
  if (bits?.tag !== TAG.BIT_STRING) throw new KeyTypeError('SubjectPublicKeyInfo: expected a BIT STRING key');
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

export function issueMeshCert(params: MeshCertParams): Buffer {
  // The same key checks (and KeyTypeError messages) as the WebCrypto import this replaced.
  if (params.issuerKey.type !== 'private') throw new KeyTypeError(`signing key: expected a private key, got ${params.issuerKey.type}`);
  ecCurve(params.issuerKey, 'signing key');
  const subjectPublic = params.subjectPublicKey.type === 'private' ? createPublicKey(params.subjectPublicKey) : params.subjectPublicKey;
  ecCurve(subjectPublic, 'public key');
  const now = (params.now ?? new Date()).getTime();
  const names = params.sans.map(classifySan);
  const firstDns = names.find((n) => n.type === 'dns')?.value;
  const issuerSpki = spkiDer(params.issuerKey);
  const extensions = [
    extension(OID.keyUsage, true, tlv(TAG.BIT_STRING, Buffer.from([7, 0x80]))), // digitalSignature (7 unused bits)
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
    extension(OID.basicConstraints, true, sequence()),
    extension(OID.authorityKeyId, false, sequence(implicit(0, keyIdentifier(issuerSpki)))),
  ];
  if (names.length > 0) extensions.push(extension(OID.subjectAltName, false, sequence(...names.map(generalName))));
  for (const e of params.extraExtensions ?? []) extensions.push(extension(e.oid, false, e.value));
  if (params.workloadSecretID !== undefined && params.workloadSecretID !== '') {
    extensions.push(extension(WORKLOAD_SECRET_ID_OID, false, Buffer.from(params.workloadSecretID, 'utf8')));
  }
  const algorithm = sequence(oid(ECDSA_WITH_SHA384));
  const tbs = sequence(
    explicit(0, unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(Buffer.from(randomSerialHex(), 'hex')),
    algorithm,
    sequence(commonNameRdn(INTERMEDIATE_CN)),
    sequence(time(new Date(now - HOUR_MS)), time(new Date(now + YEAR_MS))),
    firstDns === undefined ? sequence() : sequence(commonNameRdn(firstDns)),
    spkiDer(subjectPublic),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha384', tbs, { key: params.issuerKey, dsaEncoding: 'der' });
  return sequence(tbs, algorithm, bitString(signature));
}
