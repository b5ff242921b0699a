/**
 * The TDX attestation document's encoder: protobuf `tdx.QuoteV4` with the field layout of the
 * Coordinator's go-tdx-guest fork (repeated rtmrs = 11, report_data = 12), written with the hand-written
 * lib/protobuf/writer.ts so that the issuing path loads no protobuf library. The bytes equal protobufjs' encoding
 * of the message the encoder built before: every sub-message present; zero scalars and empty bytes left
 * out in the header, certification data, QE report, QE auth data and PCK chain data and for
 * signed_data_size / extra_bytes; the quote body, signature, attestation key and QE report signature
 * written as they are. The decoder is in tdx-document.ts (on lib/protobuf), which re-exports this.
 */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import type { TdxQuote } from './tdx-quote.js';
import { ProtoWriter } from '../protobuf/writer.js';

/** A uint32 field left out when zero. */
function u32z(w: ProtoWriter, field: number, v: number): void {
  if (v !== 0) w.uint32(field, v);
}

/** A bytes field left out when empty. */
function bytesz(w: ProtoWriter, field: number, b: Uint8Array): void {
  if (b.length !== 0) w.bytes(field, b);
}

export function encodeTdxDocument(q: TdxQuote): Buffer {
  if (q.version !== 4) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.UNSUPPORTED_VERSION,
      `TDX quote: version ${q.version}, the QuoteV4 document needs version 4`,
    );
  }
  const header = new ProtoWriter();
  u32z(header, 1, q.version);
  u32z(header, 2, q.attestationKeyType);
  u32z(header, 3, q.teeType);
  bytesz(header, 4, q.qeSvn);
  bytesz(header, 5, q.pceSvn);
  bytesz(header, 6, q.qeVendorId);
  bytesz(header, 7, q.userData);

  const b = q.body;
  const body = new ProtoWriter()
    .bytes(1, b.teeTcbSvn)
    .bytes(2, b.mrSeam)
    .bytes(3, b.mrSignerSeam)
    .bytes(4, b.seamAttributes)
    .bytes(5, b.tdAttributes)
    .bytes(6, b.xfam)
    .bytes(7, b.mrTd)
    .bytes(8, b.mrConfigId)
    .bytes(9, b.mrOwner)
    .bytes(10, b.mrOwnerConfig);
  for (const rtmr of b.rtmrs) body.bytes(11, rtmr);
  body.bytes(12, b.reportData);

  const r = q.qeReport;
  const qeReport = new ProtoWriter();
  bytesz(qeReport, 1, r.cpuSvn);
  u32z(qeReport, 2, r.miscSelect);
  bytesz(qeReport, 3, r.reserved1);
  bytesz(qeReport, 4, r.attributes);
  bytesz(qeReport, 5, r.mrEnclave);
  bytesz(qeReport, 6, r.reserved2);
  bytesz(qeReport, 7, r.mrSigner);
  bytesz(qeReport, 8, r.reserved3);
  u32z(qeReport, 9, r.isvProdId);
  u32z(qeReport, 10, r.isvSvn);
  bytesz(qeReport, 11, r.reserved4);
  bytesz(qeReport, 12, r.reportData);

  const auth = new ProtoWriter();
  u32z(auth, 1, q.qeAuthData.length);
  bytesz(auth, 2, q.qeAuthData);

  const pck = new ProtoWriter();
  u32z(pck, 1, q.pckChainType);
  u32z(pck, 2, q.pckChainSize);
  bytesz(pck, 3, q.pckChain);

  const qrcd = new ProtoWriter().message(1, qeReport).bytes(2, q.qeReportSignature).message(3, auth).message(4, pck);
  const certification = new ProtoWriter();
  u32z(certification, 1, q.certificationDataType);
  u32z(certification, 2, q.certificationDataSize);
  certification.message(3, qrcd);
  const signed = new ProtoWriter().bytes(1, q.signature).bytes(2, q.attestationKey).message(3, certification);

  const w = new ProtoWriter().message(1, header).message(2, body);
  u32z(w, 3, q.signedDataSize);
  w.message(4, signed);
  bytesz(w, 5, q.extraBytes);
  return w.finish();
}
