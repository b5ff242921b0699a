/**
 * The attestation documents' message descriptions for lib/protobuf/message.ts, field for field from
 * lib/attestation/proto/{sevsnp,tdx}.proto (those files are the facts; test/protobuf/descriptions.test.ts
 * checks these against them). Used by the decoders; the issuing path encodes with the writer directly.
 */
import type { MessageDescription } from '../protobuf/message.js';

const UINT32_VALUE: MessageDescription = { name: 'google.protobuf.UInt32Value', fields: { 1: { name: 'value', type: 'uint32' } } };

const SNP_REPORT: MessageDescription = {
  name: 'sevsnp.Report',
  fields: {
    1: { name: 'version', type: 'uint32' }, 2: { name: 'guest_svn', type: 'uint32' }, 3: { name: 'policy', type: 'uint64' },
    4: { name: 'family_id', type: 'bytes' }, 5: { name: 'image_id', type: 'bytes' }, 6: { name: 'vmpl', type: 'uint32' },
    7: { name: 'signature_algo', type: 'uint32' }, 8: { name: 'current_tcb', type: 'uint64' }, 9: { name: 'platform_info', type: 'uint64' },
    10: { name: 'signer_info', type: 'uint32' }, 11: { name: 'report_data', type: 'bytes' }, 12: { name: 'measurement', type: 'bytes' },
    13: { name: 'host_data', type: 'bytes' }, 14: { name: 'id_key_digest', type: 'bytes' }, 15: { name: 'author_key_digest', type: 'bytes' },
    16: { name: 'report_id', type: 'bytes' }, 17: { name: 'report_id_ma', type: 'bytes' }, 18: { name: 'reported_tcb', type: 'uint64' },
    19: { name: 'chip_id', type: 'bytes' }, 20: { name: 'committed_tcb', type: 'uint64' }, 21: { name: 'current_build', type: 'uint32' },
    22: { name: 'current_minor', type: 'uint32' }, 23: { name: 'current_major', type: 'uint32' }, 24: { name: 'committed_build', type: 'uint32' },
    25: { name: 'committed_minor', type: 'uint32' }, 26: { name: 'committed_major', type: 'uint32' }, 27: { name: 'launch_tcb', type: 'uint64' },
    28: { name: 'signature', type: 'bytes' }, 29: { name: 'cpuid1eax_fms', type: 'uint32' }, 30: { name: 'launch_mit_vector', type: 'uint64' },
    31: { name: 'current_mit_vector', type: 'uint64' },
  },
};

const SNP_CHAIN: MessageDescription = {
  name: 'sevsnp.CertificateChain',
  fields: {
    1: { name: 'vcek_cert', type: 'bytes' }, 2: { name: 'ask_cert', type: 'bytes' }, 3: { name: 'ark_cert', type: 'bytes' },
    4: { name: 'firmware_cert', type: 'bytes' }, 6: { name: 'vlek_cert', type: 'bytes' }, 7: { name: 'extras', type: 'map<string,bytes>' },
  },
};

const SNP_PRODUCT: MessageDescription = {
  name: 'sevsnp.SevProduct',
  fields: { 1: { name: 'name', type: 'enum' }, 2: { name: 'stepping', type: 'uint32' }, 3: { name: 'machine_stepping', type: UINT32_VALUE } },
};

export const SNP_ATTESTATION: MessageDescription = {
  name: 'sevsnp.Attestation',
  fields: { 1: { name: 'report', type: SNP_REPORT }, 2: { name: 'certificate_chain', type: SNP_CHAIN }, 3: { name: 'product', type: SNP_PRODUCT } },
};

const TDX_HEADER: MessageDescription = {
  name: 'tdx.Header',
  fields: {
    1: { name: 'version', type: 'uint32' }, 2: { name: 'attestation_key_type', type: 'uint32' }, 3: { name: 'tee_type', type: 'uint32' },
    4: { name: 'qe_svn', type: 'bytes' }, 5: { name: 'pce_svn', type: 'bytes' }, 6: { name: 'qe_vendor_id', type: 'bytes' },
    7: { name: 'user_data', type: 'bytes' },
  },
};

const TDX_BODY: MessageDescription = {
  name: 'tdx.TDQuoteBody',
  fields: {
    1: { name: 'tee_tcb_svn', type: 'bytes' }, 2: { name: 'mr_seam', type: 'bytes' }, 3: { name: 'mr_signer_seam', type: 'bytes' },
    4: { name: 'seam_attributes', type: 'bytes' }, 5: { name: 'td_attributes', type: 'bytes' }, 6: { name: 'xfam', type: 'bytes' },
    7: { name: 'mr_td', type: 'bytes' }, 8: { name: 'mr_config_id', type: 'bytes' }, 9: { name: 'mr_owner', type: 'bytes' },
    10: { name: 'mr_owner_config', type: 'bytes' }, 11: { name: 'rtmrs', type: 'bytes', repeated: true }, 12: { name: 'report_data', type: 'bytes' },
  },
};

const TDX_ENCLAVE_REPORT: MessageDescription = {
  name: 'tdx.EnclaveReport',
  fields: {
    1: { name: 'cpu_svn', type: 'bytes' }, 2: { name: 'misc_select', type: 'uint32' }, 3: { name: 'reserved1', type: 'bytes' },
    4: { name: 'attributes', type: 'bytes' }, 5: { name: 'mr_enclave', type: 'bytes' }, 6: { name: 'reserved2', type: 'bytes' },
    7: { name: 'mr_signer', type: 'bytes' }, 8: { name: 'reserved3', type: 'bytes' }, 9: { name: 'isv_prod_id', type: 'uint32' },
    10: { name: 'isv_svn', type: 'uint32' }, 11: { name: 'reserved4', type: 'bytes' }, 12: { name: 'report_data', type: 'bytes' },
  },
};

const TDX_QE_AUTH: MessageDescription = {
  name: 'tdx.QeAuthData', fields: { 1: { name: 'parsed_data_size', type: 'uint32' }, 2: { name: 'data', type: 'bytes' } },
};

const TDX_PCK_CHAIN: MessageDescription = {
  name: 'tdx.PCKCertificateChainData',
  fields: { 1: { name: 'certificate_data_type', type: 'uint32' }, 2: { name: 'size', type: 'uint32' }, 3: { name: 'pck_cert_chain', type: 'bytes' } },
};

const TDX_QE_REPORT_CERT: MessageDescription = {
  name: 'tdx.QEReportCertificationData',
  fields: {
    1: { name: 'qe_report', type: TDX_ENCLAVE_REPORT }, 2: { name: 'qe_report_signature', type: 'bytes' },
    3: { name: 'qe_auth_data', type: TDX_QE_AUTH }, 4: { name: 'pck_certificate_chain_data', type: TDX_PCK_CHAIN },
  },
};

const TDX_CERT_DATA: MessageDescription = {
  name: 'tdx.CertificationData',
  fields: {
    1: { name: 'certificate_data_type', type: 'uint32' }, 2: { name: 'size', type: 'uint32' },
    3: { name: 'qe_report_certification_data', type: TDX_QE_REPORT_CERT },
  },
};

const TDX_AUTH_DATA: MessageDescription = {
  name: 'tdx.Ecdsa256BitQuoteV4AuthData',
  fields: {
    1: { name: 'signature', type: 'bytes' }, 2: { name: 'ecdsa_attestation_key', type: 'bytes' },
    3: { name: 'certification_data', type: TDX_CERT_DATA },
  },
};

export const TDX_QUOTE_V4: MessageDescription = {
  name: 'tdx.QuoteV4',
  fields: {
    1: { name: 'header', type: TDX_HEADER }, 2: { name: 'td_quote_body', type: TDX_BODY }, 3: { name: 'signed_data_size', type: 'uint32' },
    4: { name: 'signed_data', type: TDX_AUTH_DATA }, 5: { name: 'extra_bytes', type: 'bytes' },
  },
};
