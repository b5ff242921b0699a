/** Test helper: the raw DER of each field of a certificate's TBSCertificate, for field-by-field comparisons. */
import { readChildren, readElement, readWhole, TAG } from '../../../lib/x509/der.js';

export function tbsFields(der: Buffer): Buffer[] {
  const [tbs] = readChildren(readWhole(der, TAG.SEQUENCE, 'Certificate').content);
  const out: Buffer[] = [];
  for (let off = 0; tbs !== undefined && off < tbs.content.length;) {
    const e = readElement(tbs.content, off);
    out.push(tbs.content.subarray(off, e.end));
    off = e.end;
  }
  return out;
}
