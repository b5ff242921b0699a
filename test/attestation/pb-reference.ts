/**
 * The document encoders as they were on protobufjs (before lib/protobuf/writer.ts), kept verbatim as the reference
 * that the hand-written encoders must equal byte for byte (pb-writer.test.ts).
 */
import { AttestationError, ATTESTATION_ERROR_CODES } from '../../lib/attestation/errors.js';
import { cpuid1EaxFromFms, type SnpReport } from '../../lib/attestation/snp-report.js';
import { SEV_PRODUCT_ENUM } from '../../lib/attestation/snp-product.js';
import type { SnpDocument } from '../../lib/attestation/snp-document.js';
import type { TdxQuote } from '../../lib/attestation/tdx-quote.js';
import { omitZero, SnpAttestationType, TdxQuoteV4Type, u64 } from '../protobuf/protobufjs-reference.js';

/** Zero u64s are left out, as Go does. */
function u64z(v: bigint): ReturnType<typeof u64> | undefined {
  return v === 0n ? undefined : u64(v);
}

function reportMessage(r: SnpReport): Record<string, unknown> {
  const m: Record<string, unknown> = {
    version: r.version,
    guest_svn: r.guestSvn,
    policy: u64z(BigInt(r.policy)),
    family_id: r.familyId,
    image_id: r.imageId,
    vmpl: r.vmpl,
    signature_algo: r.signatureAlgo,
    current_tcb: u64z(r.currentTcb),
    platform_info: u64z(r.platformInfo),
    signer_info: r.signerInfo,
    report_data: r.reportData,
    measurement: r.measurement,
    host_data: r.hostData,
    id_key_digest: r.idKeyDigest,
    author_key_digest: r.authorKeyDigest,
    report_id: r.reportId,
    report_id_ma: r.reportIdMa,
    reported_tcb: u64z(r.reportedTcb),
    chip_id: r.chipId,
    committed_tcb: u64z(r.committedTcb),
    current_build: r.currentBuild,
    current_minor: r.currentMinor,
    current_major: r.currentMajor,
    committed_build: r.committedBuild,
    committed_minor: r.committedMinor,
    committed_major: r.committedMajor,
    launch_tcb: u64z(r.launchTcb),
    signature: r.signature,
    cpuid1eax_fms: r.version >= 3 ? cpuid1EaxFromFms(r.cpuidFamily, r.cpuidModel, r.cpuidStepping) : 0,
    launch_mit_vector: u64z(r.launchMitVector),
    current_mit_vector: u64z(r.currentMitVector),
  };
  for (const [k, v] of Object.entries(m)) {
    if (omitZero(v) === undefined) m[k] = undefined;
  }
  return m;
}

export function protobufjsSnpDocument(doc: SnpDocument): Buffer {
  const message: Record<string, unknown> = {
    report: reportMessage(doc.report),
    product: {
      name: omitZero(SEV_PRODUCT_ENUM[doc.product]),
      machine_stepping: { value: omitZero(doc.machineStepping ?? 0) },
    },
  };
  const c = doc.chain;
  if (c !== undefined && (c.vcek ?? c.vlek ?? c.ask ?? c.ark) !== undefined) {
    message['certificate_chain'] = {
      vcek_cert: c.vcek,
      ask_cert: c.ask,
      ark_cert: c.ark,
      vlek_cert: c.vlek,
      extras: c.extras,
    };
  }
  const err = SnpAttestationType.verify(message);
  if (err !== null) throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `encoding sevsnp.Attestation: ${err}`);
  return Buffer.from(SnpAttestationType.encode(SnpAttestationType.fromObject(message)).finish());
}

function clean(m: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(m)) if (omitZero(v) === undefined) m[k] = undefined;
  return m;
}

export function protobufjsTdxDocument(q: TdxQuote): Buffer {
  if (q.version !== 4) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.UNSUPPORTED_VERSION,
      `TDX quote: version ${q.version}, the QuoteV4 document needs version 4`,
    );
  }
  const b = q.body;
  const r = q.qeReport;
  const message = {
    header: clean({
      version: q.version,
      attestation_key_type: q.attestationKeyType,
      tee_type: q.teeType,
      qe_svn: q.qeSvn,
      pce_svn: q.pceSvn,
      qe_vendor_id: q.qeVendorId,
      user_data: q.userData,
    }),
    td_quote_body: {
      tee_tcb_svn: b.teeTcbSvn,
      mr_seam: b.mrSeam,
      mr_signer_seam: b.mrSignerSeam,
      seam_attributes: b.seamAttributes,
      td_attributes: b.tdAttributes,
      xfam: b.xfam,
      mr_td: b.mrTd,
      mr_config_id: b.mrConfigId,
      mr_owner: b.mrOwner,
      mr_owner_config: b.mrOwnerConfig,
      rtmrs: [...b.rtmrs],
      report_data: b.reportData,
    },
    signed_data_size: omitZero(q.signedDataSize),
    signed_data: {
      signature: q.signature,
      ecdsa_attestation_key: q.attestationKey,
      certification_data: clean({
        certificate_data_type: q.certificationDataType,
        size: q.certificationDataSize,
        qe_report_certification_data: {
          qe_report: clean({
            cpu_svn: r.cpuSvn,
            misc_select: r.miscSelect,
            reserved1: r.reserved1,
            attributes: r.attributes,
            mr_enclave: r.mrEnclave,
            reserved2: r.reserved2,
            mr_signer: r.mrSigner,
            reserved3: r.reserved3,
            isv_prod_id: r.isvProdId,
            isv_svn: r.isvSvn,
            reserved4: r.reserved4,
            report_data: r.reportData,
          }),
          qe_report_signature: q.qeReportSignature,
          qe_auth_data: clean({ parsed_data_size: q.qeAuthData.length, data: q.qeAuthData }),
          pck_certificate_chain_data: clean({
            certificate_data_type: q.pckChainType,
            size: q.pckChainSize,
            pck_cert_chain: q.pckChain,
          }),
        },
      }),
    },
    extra_bytes: omitZero(q.extraBytes),
  };
  return Buffer.from(TdxQuoteV4Type.encode(TdxQuoteV4Type.fromObject(message)).finish());
}
