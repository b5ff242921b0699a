/**
 * The TDX attestation document: protobuf `tdx.QuoteV4` with the field layout of the Coordinator's
 * go-tdx-guest fork (repeated rtmrs = 11, report_data = 12) decoded back to quote bytes, on lib/protobuf.
 * The encoder is tdx-document-encode.ts (no protobuf library, for the issuing path), re-exported here.
 */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { parseTdxQuote, TDX_BODY_V4_SIZE, TDX_HEADER_SIZE, TDX_QE_REPORT_SIZE, type TdxQuote } from './tdx-quote.js';
import { decodeDocumentMessage, TDX_QUOTE_V4 } from './proto.js';

export { encodeTdxDocument } from './tdx-document-encode.js';

const WHAT = 'TDX attestation document';

type Msg = Record<string, unknown> | null | undefined;

function sub(m: Msg, name: string, path: string): Record<string, unknown> {
  const v = m?.[name] as Msg;
  if (v === null || v === undefined)
    throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${WHAT}: ${path}.${name} is missing`);
  return v;
}

function bytes(m: Record<string, unknown>, name: string, size: number | undefined, path: string): Buffer {
  const v = m[name];
  const b = v instanceof Uint8Array ? Buffer.from(v) : Buffer.alloc(0);
  if (size !== undefined && b.length !== size) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.DOCUMENT,
      `${WHAT}: ${path}.${name} is ${b.length} bytes, expected ${size}`,
    );
  }
  return b;
}

function num(m: Record<string, unknown>, name: string): number {
  const v = m[name];
  return typeof v === 'number' ? v : 0;
}

/** Rebuilds the raw quote (upstream QuoteToAbiBytes) and parses it, so verification runs over real bytes. */
export function decodeTdxDocument(input: Uint8Array): TdxQuote {
  const m = decodeDocumentMessage(TDX_QUOTE_V4, input, WHAT);
  const h = sub(m, 'header', 'QuoteV4');
  const body = sub(m, 'td_quote_body', 'QuoteV4');
  const sd = sub(m, 'signed_data', 'QuoteV4');
  const cd = sub(sd, 'certification_data', 'signed_data');
  const qrcd = sub(cd, 'qe_report_certification_data', 'certification_data');
  const qe = sub(qrcd, 'qe_report', 'qe_report_certification_data');
  const auth = sub(qrcd, 'qe_auth_data', 'qe_report_certification_data');
  const pck = sub(qrcd, 'pck_certificate_chain_data', 'qe_report_certification_data');

  const header = Buffer.alloc(TDX_HEADER_SIZE);
  header.writeUInt16LE(num(h, 'version') & 0xffff, 0);
  header.writeUInt16LE(num(h, 'attestation_key_type') & 0xffff, 2);
  header.writeUInt32LE(num(h, 'tee_type') >>> 0, 4);
  bytes(h, 'pce_svn', 2, 'header').copy(header, 0x08);
  bytes(h, 'qe_svn', 2, 'header').copy(header, 0x0a);
  bytes(h, 'qe_vendor_id', 16, 'header').copy(header, 0x0c);
  bytes(h, 'user_data', 20, 'header').copy(header, 0x1c);

  const rtmrs = Array.isArray(body['rtmrs']) ? (body['rtmrs'] as unknown[]) : [];
  if (rtmrs.length !== 4)
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.DOCUMENT,
      `${WHAT}: td_quote_body.rtmrs has ${rtmrs.length} entries, expected 4`,
    );
  const rtmrBufs = rtmrs.map((r, i) => bytes({ r }, 'r', 48, `td_quote_body.rtmrs[${i}]`));
  const bodyBuf = Buffer.concat([
    bytes(body, 'tee_tcb_svn', 16, 'td_quote_body'),
    bytes(body, 'mr_seam', 48, 'td_quote_body'),
    bytes(body, 'mr_signer_seam', 48, 'td_quote_body'),
    bytes(body, 'seam_attributes', 8, 'td_quote_body'),
    bytes(body, 'td_attributes', 8, 'td_quote_body'),
    bytes(body, 'xfam', 8, 'td_quote_body'),
    bytes(body, 'mr_td', 48, 'td_quote_body'),
    bytes(body, 'mr_config_id', 48, 'td_quote_body'),
    bytes(body, 'mr_owner', 48, 'td_quote_body'),
    bytes(body, 'mr_owner_config', 48, 'td_quote_body'),
    ...rtmrBufs,
    bytes(body, 'report_data', 64, 'td_quote_body'),
  ]);
  if (bodyBuf.length !== TDX_BODY_V4_SIZE)
    throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${WHAT}: body is ${bodyBuf.length} bytes`);

  const qeReport = Buffer.concat([
    bytes(qe, 'cpu_svn', 16, 'qe_report'),
    u32(num(qe, 'misc_select')),
    bytes(qe, 'reserved1', 28, 'qe_report'),
    bytes(qe, 'attributes', 16, 'qe_report'),
    bytes(qe, 'mr_enclave', 32, 'qe_report'),
    bytes(qe, 'reserved2', 32, 'qe_report'),
    bytes(qe, 'mr_signer', 32, 'qe_report'),
    bytes(qe, 'reserved3', 96, 'qe_report'),
    u16(num(qe, 'isv_prod_id')),
    u16(num(qe, 'isv_svn')),
    bytes(qe, 'reserved4', 60, 'qe_report'),
    bytes(qe, 'report_data', 64, 'qe_report'),
  ]);
  if (qeReport.length !== TDX_QE_REPORT_SIZE)
    throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${WHAT}: QE report is ${qeReport.length} bytes`);
  const authData = bytes(auth, 'data', undefined, 'qe_auth_data');
  const chain = bytes(pck, 'pck_cert_chain', undefined, 'pck_certificate_chain_data');

  const signed = Buffer.concat([
    bytes(sd, 'signature', 64, 'signed_data'),
    bytes(sd, 'ecdsa_attestation_key', 64, 'signed_data'),
    u16(num(cd, 'certificate_data_type')),
    u32(num(cd, 'size')),
    qeReport,
    bytes(qrcd, 'qe_report_signature', 64, 'qe_report_certification_data'),
    u16(authData.length),
    authData,
    u16(num(pck, 'certificate_data_type')),
    u32(num(pck, 'size')),
    chain,
  ]);
  const raw = Buffer.concat([
    header,
    bodyBuf,
    u32(num(m, 'signed_data_size')),
    signed,
    bytes(m, 'extra_bytes', undefined, 'QuoteV4'),
  ]);
  const quote = parseTdxQuote(raw);
  if (quote.version !== 4)
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.UNSUPPORTED_VERSION,
      `${WHAT}: header.version is ${quote.version}, expected 4`,
    );
  return quote;
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v & 0xffff);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
