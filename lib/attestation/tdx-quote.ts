/**
 * Intel DCAP TD quote v4 (and v5 with body type 2 or 3): parse into a typed object.
 * Offsets: tee-abi.md §2.5. Everything after the signed data is kept as `extraBytes`.
 */
import { AttestationError, ATTESTATION_ERROR_CODES, badField, truncated } from './errors.js';
import { copy, need } from './bytes.js';

export const TDX_HEADER_SIZE = 0x30;
export const TDX_BODY_V4_SIZE = 0x248;
export const TDX_BODY_V5_TYPE3_SIZE = 0x288;
export const TDX_QE_REPORT_SIZE = 384;
export const TDX_TEE_TYPE = 0x81;
export const TDX_QE_REPORT_CERT_TYPE = 6;
export const TDX_PCK_CHAIN_CERT_TYPE = 5;

export interface TdxQuoteBody {
  readonly teeTcbSvn: Buffer;
  readonly mrSeam: Buffer;
  readonly mrSignerSeam: Buffer;
  readonly seamAttributes: Buffer;
  readonly tdAttributes: Buffer;
  readonly xfam: Buffer;
  readonly mrTd: Buffer;
  readonly mrConfigId: Buffer;
  readonly mrOwner: Buffer;
  readonly mrOwnerConfig: Buffer;
  readonly rtmrs: readonly Buffer[];
  readonly reportData: Buffer;
  /** v5 body type 3 only. */
  readonly teeTcbSvn2?: Buffer;
  readonly mrServiceTd?: Buffer;
}

export interface EnclaveReport {
  readonly cpuSvn: Buffer;
  readonly miscSelect: number;
  readonly reserved1: Buffer;
  readonly attributes: Buffer;
  readonly mrEnclave: Buffer;
  readonly reserved2: Buffer;
  readonly mrSigner: Buffer;
  readonly reserved3: Buffer;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly reserved4: Buffer;
  readonly reportData: Buffer;
  readonly raw: Buffer;
}

export interface TdxQuote {
  readonly version: number;
  readonly attestationKeyType: number;
  readonly teeType: number;
  /** Bytes 8–10 (go-tdx-guest naming). */
  readonly pceSvn: Buffer;
  /** Bytes 10–12 (go-tdx-guest naming). */
  readonly qeSvn: Buffer;
  readonly qeVendorId: Buffer;
  readonly userData: Buffer;
  /** v5 body descriptor type (2 or 3); 0 for v4. */
  readonly bodyType: number;
  readonly body: TdxQuoteBody;
  /** End of the quote signature's range: [0, signedEnd). */
  readonly signedEnd: number;
  readonly signedDataSize: number;
  readonly signature: Buffer;
  readonly attestationKey: Buffer;
  readonly certificationDataType: number;
  readonly certificationDataSize: number;
  readonly qeReport: EnclaveReport;
  readonly qeReportSignature: Buffer;
  readonly qeAuthData: Buffer;
  readonly pckChainType: number;
  readonly pckChainSize: number;
  readonly pckChain: Buffer;
  readonly extraBytes: Buffer;
  /** The quote bytes up to the end of the signed data (without extra bytes). */
  readonly raw: Buffer;
}

const WHAT = 'TDX quote';

function parseBody(buf: Buffer, off: number, type3: boolean): TdxQuoteBody {
  const f = (rel: number, len: number): Buffer => copy(buf, off + rel, len);
  const body: TdxQuoteBody = {
    teeTcbSvn: f(0x000, 16),
    mrSeam: f(0x010, 48),
    mrSignerSeam: f(0x040, 48),
    seamAttributes: f(0x070, 8),
    tdAttributes: f(0x078, 8),
    xfam: f(0x080, 8),
    mrTd: f(0x088, 48),
    mrConfigId: f(0x0b8, 48),
    mrOwner: f(0x0e8, 48),
    mrOwnerConfig: f(0x118, 48),
    rtmrs: [f(0x148, 48), f(0x178, 48), f(0x1a8, 48), f(0x1d8, 48)],
    reportData: f(0x208, 64),
  };
  return type3 ? { ...body, teeTcbSvn2: f(0x248, 16), mrServiceTd: f(0x258, 48) } : body;
}

export function parseEnclaveReport(buf: Buffer): EnclaveReport {
  return {
    cpuSvn: copy(buf, 0x00, 16),
    miscSelect: buf.readUInt32LE(0x10),
    reserved1: copy(buf, 0x14, 28),
    attributes: copy(buf, 0x30, 16),
    mrEnclave: copy(buf, 0x40, 32),
    reserved2: copy(buf, 0x60, 32),
    mrSigner: copy(buf, 0x80, 32),
    reserved3: copy(buf, 0xa0, 96),
    isvProdId: buf.readUInt16LE(0x100),
    isvSvn: buf.readUInt16LE(0x102),
    reserved4: copy(buf, 0x104, 60),
    reportData: copy(buf, 0x140, 64),
    raw: copy(buf, 0, TDX_QE_REPORT_SIZE),
  };
}

export function parseTdxQuote(input: Uint8Array): TdxQuote {
  const buf = Buffer.from(input);
  if (buf.length < TDX_HEADER_SIZE) throw truncated(WHAT, buf.length, TDX_HEADER_SIZE, 'header');
  const version = buf.readUInt16LE(0);
  if (version !== 4 && version !== 5) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.UNSUPPORTED_VERSION,
      `${WHAT}: version at offset 0x0 is ${version}, expected 4 or 5`,
    );
  }
  const attestationKeyType = buf.readUInt16LE(2);
  if (attestationKeyType !== 2)
    throw badField(WHAT, 'attestation key type', 0x02, String(attestationKeyType), '2 (ECDSA P-256)');
  const teeType = buf.readUInt32LE(4);
  if (teeType !== TDX_TEE_TYPE) throw badField(WHAT, 'TEE type', 0x04, `0x${teeType.toString(16)}`, '0x81 (TDX)');

  let bodyOff = TDX_HEADER_SIZE;
  let bodySize = TDX_BODY_V4_SIZE;
  let bodyType = 0;
  if (version === 5) {
    need(buf, 0x30, 6, WHAT, 'body descriptor');
    bodyType = buf.readUInt16LE(0x30);
    bodySize = buf.readUInt32LE(0x32);
    const expected = bodyType === 2 ? TDX_BODY_V4_SIZE : bodyType === 3 ? TDX_BODY_V5_TYPE3_SIZE : undefined;
    if (expected === undefined)
      throw badField(WHAT, 'v5 body type', 0x30, String(bodyType), '2 (TDX 1.0) or 3 (TDX 1.5)');
    if (bodySize !== expected) throw badField(WHAT, 'v5 body size', 0x32, String(bodySize), String(expected));
    bodyOff = 0x36;
  }
  need(buf, bodyOff, bodySize, WHAT, 'TD quote body');
  const body = parseBody(buf, bodyOff, bodyType === 3);
  const signedEnd = bodyOff + bodySize;

  need(buf, signedEnd, 4, WHAT, 'signed data size');
  const signedDataSize = buf.readUInt32LE(signedEnd);
  const sd = signedEnd + 4;
  need(buf, sd, signedDataSize, WHAT, `signed data of ${signedDataSize} bytes`);
  const sdEnd = sd + signedDataSize;
  // Every inner field must lie inside the signed data.
  const inner = buf.subarray(0, sdEnd);
  need(inner, sd, 134 + TDX_QE_REPORT_SIZE + 64 + 2, WHAT, 'ECDSA signature data');
  const certificationDataType = inner.readUInt16LE(sd + 128);
  if (certificationDataType !== TDX_QE_REPORT_CERT_TYPE) {
    throw badField(
      WHAT,
      'certification data type',
      sd + 128,
      String(certificationDataType),
      '6 (QE report certification data)',
    );
  }
  const certificationDataSize = inner.readUInt32LE(sd + 130);
  const cd = sd + 134;
  need(inner, cd, certificationDataSize, WHAT, `certification data of ${certificationDataSize} bytes`);
  const cdEnd = cd + certificationDataSize;
  const cdBuf = inner.subarray(0, cdEnd);
  need(cdBuf, cd, TDX_QE_REPORT_SIZE + 64 + 2, WHAT, 'QE report certification data');
  const qeReport = parseEnclaveReport(cdBuf.subarray(cd, cd + TDX_QE_REPORT_SIZE));
  const qeReportSignature = copy(cdBuf, cd + TDX_QE_REPORT_SIZE, 64);
  const authOff = cd + TDX_QE_REPORT_SIZE + 64;
  const authSize = cdBuf.readUInt16LE(authOff);
  need(cdBuf, authOff + 2, authSize, WHAT, `QE auth data of ${authSize} bytes`);
  const qeAuthData = copy(cdBuf, authOff + 2, authSize);
  const pckOff = authOff + 2 + authSize;
  need(cdBuf, pckOff, 6, WHAT, 'PCK certification data header');
  const pckChainType = cdBuf.readUInt16LE(pckOff);
  if (pckChainType !== TDX_PCK_CHAIN_CERT_TYPE) {
    throw badField(WHAT, 'inner certification data type', pckOff, String(pckChainType), '5 (PCK certificate chain)');
  }
  const pckChainSize = cdBuf.readUInt32LE(pckOff + 2);
  need(cdBuf, pckOff + 6, pckChainSize, WHAT, `PCK certificate chain of ${pckChainSize} bytes`);

  return {
    version,
    attestationKeyType,
    teeType,
    pceSvn: copy(buf, 0x08, 2),
    qeSvn: copy(buf, 0x0a, 2),
    qeVendorId: copy(buf, 0x0c, 16),
    userData: copy(buf, 0x1c, 20),
    bodyType,
    body,
    signedEnd,
    signedDataSize,
    signature: copy(buf, sd, 64),
    attestationKey: copy(buf, sd + 64, 64),
    certificationDataType,
    certificationDataSize,
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckChainType,
    pckChainSize,
    pckChain: copy(cdBuf, pckOff + 6, pckChainSize),
    extraBytes: copy(buf, sdEnd, buf.length - sdEnd),
    raw: copy(buf, 0, sdEnd),
  };
}
