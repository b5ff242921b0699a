/**
 * Reads the fields of an X.509 certificate that the aTLS receiver checks (validity and extensions)
 * straight from the DER, so that the per-connection path needs no ASN.1 library. Node's
 * X509Certificate still parses the certificate and verifies its signature; this only walks the
 * TBSCertificate (RFC 5280 §4.1) and throws DerError on anything that is not well-formed DER there.
 */
import { DerError, readChildren, readElement, readWhole, oidString, TAG, type Element } from './der.js';

export interface CertificateExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content. */
  readonly value: Buffer;
}

export interface CertificateFields {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** In certificate order. */
  readonly extensions: readonly CertificateExtension[];
}

const VERSION_TAG = 0xa0;
const ISSUER_UID_TAG = 0x81;
const SUBJECT_UID_TAG = 0x82;
const EXTENSIONS_TAG = 0xa3;

/** X.509 Time: UTCTime YYMMDDHHMM[SS]Z (YY < 50 is 20YY) or GeneralizedTime YYYYMMDDHHMM[SS]Z. */
export function readTime(e: Element): Date {
  const s = e.content.toString('latin1');
  const m =
    e.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s)
      : e.tag === TAG.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s)
        : null;
  if (m === null)
    throw new DerError(
      `time ${JSON.stringify(s)} (tag 0x${e.tag.toString(16)}): expected UTCTime or GeneralizedTime in UTC`,
    );
  const [, y = '', mo = '', d = '', h = '', mi = '', sec = '0'] = m;
  let year = Number(y);
  if (e.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900;
  const date = new Date(Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)));
  if (
    date.getUTCMonth() !== Number(mo) - 1 ||
    date.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(sec) > 59
  ) {
    throw new DerError(`time ${JSON.stringify(s)}: not a valid date`);
  }
  return date;
}

function readExtension(e: Element): CertificateExtension {
  if (e.tag !== TAG.SEQUENCE) throw new DerError('Extension: expected SEQUENCE');
  const parts = readChildren(e.content);
  const [id, second, third, ...extra] = parts;
  if (id?.tag !== TAG.OID || second === undefined || extra.length > 0)
    throw new DerError('Extension: expected { OID, [BOOLEAN], OCTET STRING }');
  const critical = third === undefined ? undefined : second;
  const value = third ?? second;
  if (critical !== undefined && (critical.tag !== TAG.BOOLEAN || critical.content.length !== 1))
    throw new DerError('Extension: critical must be a BOOLEAN');
  if (value.tag !== TAG.OCTET_STRING) throw new DerError('Extension: extnValue must be an OCTET STRING');
  return {
    oid: oidString(id.content),
    critical: critical !== undefined && critical.content[0] !== 0,
    value: value.content,
  };
}

/** Validity and extensions of a DER certificate. */
export function readCertificateFields(der: Buffer): CertificateFields {
  const cert = readWhole(der, TAG.SEQUENCE, 'Certificate');
  const [tbs, sigAlg, sig, ...rest] = readChildren(cert.content);
  if (tbs?.tag !== TAG.SEQUENCE || sigAlg?.tag !== TAG.SEQUENCE || sig?.tag !== TAG.BIT_STRING || rest.length > 0) {
    throw new DerError('Certificate: expected { TBSCertificate, AlgorithmIdentifier, BIT STRING }');
  }
  const fields = readChildren(tbs.content);
  let i = fields[0]?.tag === VERSION_TAG ? 1 : 0;
  const [serial, alg, issuer, validity, subject, spki] = fields.slice(i, i + 6);
  if (
    serial?.tag !== TAG.INTEGER ||
    alg?.tag !== TAG.SEQUENCE ||
    issuer?.tag !== TAG.SEQUENCE ||
    validity?.tag !== TAG.SEQUENCE ||
    subject?.tag !== TAG.SEQUENCE ||
    spki?.tag !== TAG.SEQUENCE
  ) {
    throw new DerError('TBSCertificate: expected serial, signature, issuer, validity, subject, subjectPublicKeyInfo');
  }
  i += 6;
  const times = readChildren(validity.content);
  const [nb, na] = times;
  if (nb === undefined || na === undefined || times.length !== 2)
    throw new DerError('Validity: expected { notBefore, notAfter }');
  if (fields[i]?.tag === ISSUER_UID_TAG) i++;
  if (fields[i]?.tag === SUBJECT_UID_TAG) i++;
  let extensions: CertificateExtension[] = [];
  const ext = fields[i];
  if (ext?.tag === EXTENSIONS_TAG) {
    const list = readElement(ext.content);
    if (list.tag !== TAG.SEQUENCE || list.end !== ext.content.length)
      throw new DerError('extensions: expected [3] { SEQUENCE OF Extension }');
    extensions = readChildren(list.content).map(readExtension);
    i++;
  }
  if (i !== fields.length) throw new DerError(`TBSCertificate: ${fields.length - i} unexpected trailing field(s)`);
  return { notBefore: readTime(nb), notAfter: readTime(na), extensions };
}
