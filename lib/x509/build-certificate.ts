/**
 * The one X.509 v3 certificate builder: the aTLS certificate, the server's nonce CA, the mesh
 * (workload) certificate and the Coordinator's CA certificates are all written here, as DER by hand and signed with node:crypto, so that no
 * ASN.1 library or WebCrypto import sits on those paths. Synchronous: it returns the certificate.
 *
 * Field choices are the ones @peculiar/x509's generator made for the certificates this replaced:
 * v3, a positive serial, names of one CN each as PrintableString where the value allows it and
 * UTF8String otherwise, validity as UTCTime through 2049, extensions in the order KeyUsage (critical),
 * ExtKeyUsage, BasicConstraints (critical), SubjectKeyIdentifier, AuthorityKeyIdentifier, SubjectAltName, then the extra
 * extensions as given. ecdsa-with-SHA256 for a P-256 signing key, ecdsa-with-SHA384 for P-384 (unless
 * `hash` says otherwise).
 */
import { createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { ContrastError } from '../errors.js';
import {
  bitString,
  boolean,
  explicit,
  implicit,
  octetString,
  oid,
  printableString,
  readChildren,
  readWhole,
  sequence,
  set,
  TAG,
  time,
  tlv,
  unsignedInteger,
  utf8String,
} from './der.js';
import { ecCurve, KeyTypeError } from './webcrypto.js';

/** A certificate description the builder cannot write (bad dates, serial, OID, key usage). */
export class CertificateSpecError extends ContrastError {
  readonly code = 'ERR_X509_SPEC';
}

export type KeyUsage =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

const KEY_USAGE_BITS: Readonly<Record<KeyUsage, number>> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
};

export interface RawExtension {
  readonly oid: string;
  /** The extnValue OCTET STRING's content. */
  readonly value: Uint8Array;
  readonly critical?: boolean;
}

export interface CertificateSpec {
  /** Subject CN; `undefined` writes an empty Name. */
  readonly subject: string | undefined;
  /** Issuer CN; defaults to the subject (self-signed). */
  readonly issuer?: string;
  /** Big-endian magnitude of a positive serial (1..20 bytes); defaults to `randomSerial()`. */
  readonly serial?: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The certified key (EC P-256 or P-384; a private key stands for its public half). */
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER of `publicKey`, when the caller has it already. */
  readonly spki?: Uint8Array;
  /** The issuer's private EC key that signs the certificate. */
  readonly signingKey: KeyObject;
  /** Signature hash; defaults to SHA-256 for P-256 and SHA-384 for P-384 signing keys. */
  readonly hash?: 'sha256' | 'sha384';
  /** KeyUsage, written critical. */
  readonly keyUsage?: readonly KeyUsage[];
  /** ExtKeyUsage purpose OIDs, non-critical. */
  readonly extKeyUsage?: readonly string[];
  /** BasicConstraints, written critical. */
  readonly basicConstraints?: { readonly ca: boolean };
  /** Writes SubjectKeyIdentifier = SHA-1 of the certified key's public key bits. */
  readonly subjectKeyIdentifier?: boolean;
  /** Writes AuthorityKeyIdentifier = SHA-1 of the signing key's public key bits. */
  readonly authorityKeyIdentifier?: boolean;
  /** SANs, classified by `classifySan`; none writes no SubjectAltName extension. */
  readonly subjectAltNames?: readonly string[];
  /**
   * Further extensions, in order, after the named ones. An empty list (with no named extension) still
   * writes an empty `[3] Extensions`, as the nonce CA's former generator did; leaving every extension
   * field out writes none.
   */
  readonly extensions?: readonly RawExtension[];
}

export const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** A positive serial below 2^128 whose DER INTEGER needs no leading zero byte (16 bytes). */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return b;
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** The DER Name { CN = cn } (PrintableString where the value allows it, else UTF8String); `undefined` is the empty Name. */
export function commonNameDer(cn: string | undefined): Buffer {
  if (cn === undefined) return sequence();
  return sequence(set(sequence(oid(OID.commonName), PRINTABLE.test(cn) ? printableString(cn) : utf8String(cn))));
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
  const hextets = (part: string): number[] =>
    part
      .split(':')
      .filter((g) => g !== '')
      .flatMap((g) => {
        if (!g.includes('.')) return [parseInt(g, 16)];
        const b = ipBytes(g); // trailing dotted IPv4 (e.g. ::ffff:10.0.0.1): two hextets
        return [b.readUInt16BE(0), b.readUInt16BE(2)];
      });
  const [head = '', tail] = ip.replace(/%.*$/, '').split('::');
  const left = hextets(head);
  const right = tail === undefined ? [] : hextets(tail);
  const groups = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(g, i * 2);
  });
  return out;
}

function generalName(n: GeneralName): Buffer {
  switch (n.type) {
    case 'ip':
      return implicit(7, ipBytes(n.value));
    case 'url':
      return implicit(6, Buffer.from(n.value, 'latin1'));
    case 'dns':
      return implicit(2, Buffer.from(n.value, 'latin1'));
  }
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey BIT STRING's bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = readChildren(readWhole(spki, TAG.SEQUENCE, 'SubjectPublicKeyInfo').content);
  if (bits?.tag !== TAG.BIT_STRING) throw new KeyTypeError('SubjectPublicKeyInfo: expected a BIT STRING key');
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

/** SubjectPublicKeyInfo DER of a key (a private key stands for its public half). */
export function spkiOf(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** The KeyUsage named bit list, minimal DER (trailing zero bits dropped). */
function keyUsageBits(usages: readonly KeyUsage[]): Buffer {
  let mask = 0;
  for (const u of usages) {
    const bit = KEY_USAGE_BITS[u] as number | undefined;
    if (bit === undefined)
      throw new CertificateSpecError(
        `key usage ${JSON.stringify(u)}: expected one of ${Object.keys(KEY_USAGE_BITS).join(', ')}`,
      );
    mask |= 1 << bit;
  }
  if (mask === 0) throw new CertificateSpecError('key usage: expected at least one usage');
  const highest = 31 - Math.clz32(mask);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (let bit = 0; bit <= highest; bit++)
    if (mask & (1 << bit)) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return tlv(TAG.BIT_STRING, Buffer.from([7 - (highest & 7)]), bytes);
}

function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

function checkedOid(id: string, what: string): Buffer {
  try {
    if (!/^[0-2]\.\d+(\.\d+)*$/.test(id)) throw new TypeError('expected dotted decimal arcs');
    return oid(id);
  } catch (err) {
    throw new CertificateSpecError(`${what} ${JSON.stringify(id)}: expected a dotted-decimal OID`, { cause: err });
  }
}

function checkSpec(spec: CertificateSpec): void {
  const { notBefore, notAfter, serial } = spec;
  if (!(notBefore instanceof Date) || Number.isNaN(notBefore.getTime()))
    throw new CertificateSpecError('notBefore: expected a valid Date');
  if (!(notAfter instanceof Date) || Number.isNaN(notAfter.getTime()))
    throw new CertificateSpecError('notAfter: expected a valid Date');
  if (notAfter.getTime() < notBefore.getTime()) {
    throw new CertificateSpecError(
      `validity ${notBefore.toISOString()}..${notAfter.toISOString()}: notAfter is before notBefore`,
    );
  }
  for (const d of [notBefore, notAfter]) {
    const y = d.getUTCFullYear();
    if (y < 1950 || y > 9999)
      throw new CertificateSpecError(`validity date ${d.toISOString()}: expected a year from 1950 to 9999`);
  }
  if (serial !== undefined && (serial.length === 0 || serial.length > 20 || serial.every((b) => b === 0))) {
    throw new CertificateSpecError(`serial of ${serial.length} bytes: expected a positive number of 1 to 20 bytes`);
  }
}

function extensionList(spec: CertificateSpec, subjectSpki: Buffer, signingSpki: () => Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  if (spec.keyUsage !== undefined) out.push(extension(OID.keyUsage, true, keyUsageBits(spec.keyUsage)));
  if (spec.extKeyUsage !== undefined) {
    out.push(
      extension(OID.extKeyUsage, false, sequence(...spec.extKeyUsage.map((p) => checkedOid(p, 'extended key usage')))),
    );
  }
  if (spec.basicConstraints !== undefined) {
    out.push(extension(OID.basicConstraints, true, spec.basicConstraints.ca ? sequence(boolean(true)) : sequence()));
  }
  if (spec.subjectKeyIdentifier === true)
    out.push(extension(OID.subjectKeyId, false, octetString(keyIdentifier(subjectSpki))));
  if (spec.authorityKeyIdentifier === true) {
    out.push(extension(OID.authorityKeyId, false, sequence(implicit(0, keyIdentifier(signingSpki())))));
  }
  const names = (spec.subjectAltNames ?? []).map(classifySan);
  if (names.length > 0) out.push(extension(OID.subjectAltName, false, sequence(...names.map(generalName))));
  for (const e of spec.extensions ?? []) {
    const id = checkedOid(e.oid, 'extension');
    out.push(
      e.critical === true ? sequence(id, boolean(true), octetString(e.value)) : sequence(id, octetString(e.value)),
    );
  }
  const anyField =
    spec.keyUsage !== undefined ||
    spec.extKeyUsage !== undefined ||
    spec.basicConstraints !== undefined ||
    spec.subjectKeyIdentifier === true ||
    spec.authorityKeyIdentifier === true ||
    names.length > 0 ||
    spec.extensions !== undefined;
  return anyField ? out : undefined;
}

/** Builds and signs the certificate; returns its DER. Key problems are KeyTypeError, the rest CertificateSpecError. */
export function buildCertificate(spec: CertificateSpec): Buffer {
  checkSpec(spec);
  if (spec.signingKey.type !== 'private')
    throw new KeyTypeError(`signing key: expected a private key, got ${spec.signingKey.type}`);
  const curve = ecCurve(spec.signingKey, 'signing key');
  const subjectPublic = spec.publicKey.type === 'private' ? createPublicKey(spec.publicKey) : spec.publicKey;
  if (spec.spki === undefined) ecCurve(subjectPublic, 'public key');
  const hash = spec.hash ?? (curve === 'P-384' ? 'sha384' : 'sha256');
  const algorithm = sequence(oid(hash === 'sha384' ? OID.ecdsaWithSha384 : OID.ecdsaWithSha256));
  const subject = commonNameDer(spec.subject);
  const issuer = spec.issuer === undefined ? subject : commonNameDer(spec.issuer);
  const spki =
    spec.spki === undefined
      ? spkiOf(subjectPublic)
      : Buffer.from(spec.spki.buffer, spec.spki.byteOffset, spec.spki.byteLength);
  const extensions = extensionList(spec, spki, () => spkiOf(spec.signingKey));
  const tbs = sequence(
    explicit(0, unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(spec.serial ?? randomSerial()),
    algorithm,
    issuer,
    sequence(time(spec.notBefore), time(spec.notAfter)),
    subject,
    spki,
    ...(extensions === undefined ? [] : [explicit(3, sequence(...extensions))]),
  );
  const signature = sign(hash, tbs, { key: spec.signingKey, dsaEncoding: 'der' });
  return sequence(tbs, algorithm, bitString(signature));
}
