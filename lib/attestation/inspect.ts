/**
 * `report inspect`: recognise a raw SEV-SNP report, a raw TDX quote, or an attestation document
 * (protobuf or insecure JSON; binary or base64) and describe it as one JSON-ready object.
 * Numbers stay numbers, byte fields become lowercase hex.
 */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { hex } from './bytes.js';
import { parseSnpReport, SNP_REPORT_SIZE, tcbParts, type SnpReport } from './snp-report.js';
import { decodeSnpDocument, type SnpDocument } from './snp-document.js';
import { verifySnpReport } from './snp-verify.js';
import { parseTdxQuote, TDX_TEE_TYPE, type TdxQuote } from './tdx-quote.js';
import { decodeTdxDocument } from './tdx-document.js';
import { verifyTdxQuote } from './tdx-verify.js';
import { decodeInsecureDocument } from './insecure.js';
import { loadCertificates, splitAnchors, commonName } from './certs.js';
import { INTEL_SGX_ROOT_CA_PEM } from './intel-root.js';
import { parseVcekExtensions, productFamily } from './snp-vcek.js';
import { errorMessage } from '../errors.js';

export type Inspected =
  | {
      readonly type: 'snp';
      readonly source: 'report' | 'document';
      readonly report: SnpReport;
      readonly document?: SnpDocument;
    }
  | { readonly type: 'tdx'; readonly source: 'quote' | 'document'; readonly quote: TdxQuote }
  | { readonly type: 'insecure'; readonly reportData: Buffer; readonly hostData: Buffer };

const BASE64 = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

/** Base64 text (whitespace allowed) decodes to bytes; anything else is taken as binary. */
export function unwrapBase64(input: Buffer): Buffer {
  const text = input.toString('latin1');
  if (input.length >= 8 && BASE64.test(text)) {
    const compact = text.replace(/\s+/g, '');
    if (compact.length % 4 === 0) return Buffer.from(compact, 'base64');
  }
  return input;
}

function looksLikeTdxQuote(b: Buffer): boolean {
  return b.length >= 8 && (b.readUInt16LE(0) === 4 || b.readUInt16LE(0) === 5) && b.readUInt32LE(4) === TDX_TEE_TYPE;
}

/** Recognises `input`; throws the most specific typed error when nothing fits, naming `name`. */
export function recognise(input: Buffer, name: string): Inspected {
  const trimmed = input.toString('latin1').trimStart();
  if (trimmed.startsWith('{')) {
    const d = decodeInsecureDocument(input);
    return { type: 'insecure', reportData: d.reportData, hostData: d.hostData };
  }
  const bytes = unwrapBase64(input);
  if (bytes.length === SNP_REPORT_SIZE && bytes.readUInt32LE(0) !== 0 && bytes.readUInt32LE(0) < 0x100) {
    return { type: 'snp', source: 'report', report: parseSnpReport(bytes) };
  }
  if (looksLikeTdxQuote(bytes)) return { type: 'tdx', source: 'quote', quote: parseTdxQuote(bytes) };
  const errors: string[] = [];
  try {
    const document = decodeSnpDocument(bytes);
    return { type: 'snp', source: 'document', report: document.report, document };
  } catch (err) {
    errors.push(`as sevsnp.Attestation: ${errorMessage(err)}`);
  }
  try {
    return { type: 'tdx', source: 'document', quote: decodeTdxDocument(bytes) };
  } catch (err) {
    errors.push(`as tdx.QuoteV4: ${errorMessage(err)}`);
  }
  throw new AttestationError(
    ATTESTATION_ERROR_CODES.FORMAT,
    `${name}: ${bytes.length} bytes, not a SEV-SNP report (${SNP_REPORT_SIZE} bytes, version 2-5), a TDX quote (version 4/5, TEE type 0x81) or an attestation document (${errors.join('; ')})`,
  );
}

function tcbJson(tcb: bigint, turin: boolean): Record<string, unknown> {
  const raw = Buffer.alloc(8);
  raw.writeBigUInt64LE(tcb);
  return { ...tcbParts(tcb, turin), raw: hex(raw) };
}

export function snpJson(r: SnpReport, doc: SnpDocument | undefined, turin: boolean): Record<string, unknown> {
  return {
    type: 'snp',
    version: r.version,
    guestSvn: r.guestSvn,
    policy: r.policy,
    familyId: hex(r.familyId),
    imageId: hex(r.imageId),
    vmpl: r.vmpl,
    signatureAlgo: r.signatureAlgo,
    currentTcb: tcbJson(r.currentTcb, turin),
    platformInfo: Number(r.platformInfo),
    signerInfo: r.signerInfo,
    signingKey: r.signingKey,
    reportData: hex(r.reportData),
    measurement: hex(r.measurement),
    hostData: hex(r.hostData),
    idKeyDigest: hex(r.idKeyDigest),
    authorKeyDigest: hex(r.authorKeyDigest),
    reportId: hex(r.reportId),
    reportIdMa: hex(r.reportIdMa),
    reportedTcb: tcbJson(r.reportedTcb, turin),
    ...(r.version >= 3 ? { cpuid: { family: r.cpuidFamily, model: r.cpuidModel, stepping: r.cpuidStepping } } : {}),
    chipId: hex(r.chipId),
    committedTcb: tcbJson(r.committedTcb, turin),
    launchTcb: tcbJson(r.launchTcb, turin),
    currentFirmware: { major: r.currentMajor, minor: r.currentMinor, build: r.currentBuild },
    committedFirmware: { major: r.committedMajor, minor: r.committedMinor, build: r.committedBuild },
    ...(r.version >= 5
      ? { launchMitVector: hex(u64le(r.launchMitVector)), currentMitVector: hex(u64le(r.currentMitVector)) }
      : {}),
    ...(doc !== undefined
      ? { product: doc.product, certificates: Object.keys(doc.chain ?? {}).filter((k) => k !== 'extras') }
      : {}),
  };
}

function u64le(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

export function tdxJson(q: TdxQuote): Record<string, unknown> {
  const b = q.body;
  return {
    type: 'tdx',
    version: q.version,
    attestationKeyType: q.attestationKeyType,
    teeType: q.teeType,
    qeSvn: hex(q.qeSvn),
    pceSvn: hex(q.pceSvn),
    qeVendorId: hex(q.qeVendorId),
    userData: hex(q.userData),
    ...(q.version === 5 ? { bodyType: q.bodyType } : {}),
    teeTcbSvn: hex(b.teeTcbSvn),
    mrSeam: hex(b.mrSeam),
    mrSignerSeam: hex(b.mrSignerSeam),
    seamAttributes: hex(b.seamAttributes),
    tdAttributes: hex(b.tdAttributes),
    xfam: hex(b.xfam),
    mrTd: hex(b.mrTd),
    mrConfigId: hex(b.mrConfigId),
    mrOwner: hex(b.mrOwner),
    mrOwnerConfig: hex(b.mrOwnerConfig),
    rtmrs: b.rtmrs.map(hex),
    reportData: hex(b.reportData),
    ...(b.teeTcbSvn2 !== undefined ? { teeTcbSvn2: hex(b.teeTcbSvn2) } : {}),
    ...(b.mrServiceTd !== undefined ? { mrServiceTd: hex(b.mrServiceTd) } : {}),
    signedDataSize: q.signedDataSize,
    qeReport: {
      mrEnclave: hex(q.qeReport.mrEnclave),
      mrSigner: hex(q.qeReport.mrSigner),
      isvProdId: q.qeReport.isvProdId,
      isvSvn: q.qeReport.isvSvn,
    },
    extraBytes: q.extraBytes.length,
  };
}

export interface InspectOptions {
  /** VCEK or VLEK certificate, DER or PEM. */
  readonly vcek?: Buffer;
  /** ASK/ASVK + ARK bundle (PEM). */
  readonly askArk?: Buffer;
  readonly now?: Date;
}

interface SignatureResult {
  verified: boolean;
  reason?: string;
  chain?: string[];
}

function snpSignature(r: SnpReport, doc: SnpDocument | undefined, opts: InspectOptions): SignatureResult | undefined {
  const leafDer = opts.vcek ?? (r.signingKey === 'vlek' ? doc?.chain?.vlek : doc?.chain?.vcek);
  if (leafDer === undefined && opts.askArk === undefined) return undefined;
  try {
    if (leafDer === undefined)
      return { verified: false, reason: 'no VCEK/VLEK: pass --vcek or use a document that carries one' };
    if (opts.askArk === undefined) return { verified: false, reason: 'no ASK/ARK: pass --ask-ark' };
    const leaf = loadCertificates(leafDer, '--vcek')[0];
    if (leaf === undefined) return { verified: false, reason: '--vcek holds no certificate' };
    const { roots, others } = splitAnchors(loadCertificates(opts.askArk.toString('latin1'), '--ask-ark'));
    const docAsk = doc?.chain?.ask !== undefined ? loadCertificates(doc.chain.ask, 'document ASK') : [];
    const { chain } = verifySnpReport(r, {
      leaf,
      intermediates: [...others, ...docAsk],
      anchors: roots,
      now: opts.now ?? new Date(),
    });
    return { verified: true, chain: chain.map(commonName) };
  } catch (err) {
    if (!(err instanceof AttestationError)) throw err;
    return { verified: false, reason: err.message };
  }
}

function tdxSignature(q: TdxQuote, opts: InspectOptions): SignatureResult {
  try {
    const { chain } = verifyTdxQuote(q, {
      anchors: loadCertificates(INTEL_SGX_ROOT_CA_PEM, 'Intel SGX Root CA'),
      now: opts.now ?? new Date(),
    });
    return { verified: true, chain: chain.map(commonName) };
  } catch (err) {
    if (!(err instanceof AttestationError)) throw err;
    return { verified: false, reason: err.message };
  }
}

/** The JSON object `report inspect` prints. */
export function inspect(input: Buffer, name: string, opts: InspectOptions = {}): Record<string, unknown> {
  const found = recognise(input, name);
  switch (found.type) {
    case 'insecure':
      return { type: 'insecure', reportData: hex(found.reportData), hostData: hex(found.hostData) };
    case 'tdx':
      return { ...tdxJson(found.quote), source: found.source, signature: tdxSignature(found.quote, opts) };
    case 'snp': {
      const leafDer = opts.vcek ?? found.document?.chain?.vcek;
      let turin = found.report.version >= 3 && found.report.cpuidFamily === 0x1a;
      if (leafDer !== undefined) {
        const leaf = loadCertificates(leafDer, '--vcek')[0];
        const product = leaf === undefined ? undefined : parseVcekExtensions(leaf).productName;
        if (product !== undefined && productFamily(product) === 'Turin') turin = true;
      }
      const signature = snpSignature(found.report, found.document, opts);
      return {
        ...snpJson(found.report, found.document, turin),
        source: found.source,
        ...(signature !== undefined ? { signature } : {}),
      };
    }
  }
}
