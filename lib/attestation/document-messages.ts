/**
 * The attestation documents' message descriptions for lib/protobuf/message.ts, field for field from
 * lib/attestation/proto/{sevsnp,tdx}.proto (those files are the facts; test/protobuf/descriptions.test.ts
 * checks these against them). Used by the decoders; the issuing path encodes with the writer directly.
 */
import { describe } from '../protobuf/message.js';

const UInt32Value = describe('google.protobuf.UInt32Value', 'value:uint32');

const Report = describe(
  'sevsnp.Report',
  `
  version:uint32 guest_svn:uint32 policy:uint64 family_id:bytes image_id:bytes vmpl:uint32 signature_algo:uint32
  current_tcb:uint64 platform_info:uint64 signer_info:uint32 report_data:bytes measurement:bytes host_data:bytes
  id_key_digest:bytes author_key_digest:bytes report_id:bytes report_id_ma:bytes reported_tcb:uint64 chip_id:bytes
  committed_tcb:uint64 current_build:uint32 current_minor:uint32 current_major:uint32 committed_build:uint32
  committed_minor:uint32 committed_major:uint32 launch_tcb:uint64 signature:bytes cpuid1eax_fms:uint32
  launch_mit_vector:uint64 current_mit_vector:uint64`,
);

const CertificateChain = describe(
  'sevsnp.CertificateChain',
  'vcek_cert:bytes ask_cert:bytes ark_cert:bytes firmware_cert:bytes 6=vlek_cert:bytes extras:map<string,bytes>',
);

const SevProduct = describe('sevsnp.SevProduct', 'name:enum stepping:uint32 machine_stepping:UInt32Value', {
  UInt32Value,
});

export const SNP_ATTESTATION = describe(
  'sevsnp.Attestation',
  'report:Report certificate_chain:CertificateChain product:SevProduct',
  { Report, CertificateChain, SevProduct },
);

const Header = describe(
  'tdx.Header',
  'version:uint32 attestation_key_type:uint32 tee_type:uint32 qe_svn:bytes pce_svn:bytes qe_vendor_id:bytes user_data:bytes',
);

const TDQuoteBody = describe(
  'tdx.TDQuoteBody',
  `
  tee_tcb_svn:bytes mr_seam:bytes mr_signer_seam:bytes seam_attributes:bytes td_attributes:bytes xfam:bytes mr_td:bytes
  mr_config_id:bytes mr_owner:bytes mr_owner_config:bytes rtmrs:bytes[] report_data:bytes`,
);

const EnclaveReport = describe(
  'tdx.EnclaveReport',
  `
  cpu_svn:bytes misc_select:uint32 reserved1:bytes attributes:bytes mr_enclave:bytes reserved2:bytes mr_signer:bytes
  reserved3:bytes isv_prod_id:uint32 isv_svn:uint32 reserved4:bytes report_data:bytes`,
);

const QeAuthData = describe('tdx.QeAuthData', 'parsed_data_size:uint32 data:bytes');

const PCKCertificateChainData = describe(
  'tdx.PCKCertificateChainData',
  'certificate_data_type:uint32 size:uint32 pck_cert_chain:bytes',
);

const QEReportCertificationData = describe(
  'tdx.QEReportCertificationData',
  'qe_report:EnclaveReport qe_report_signature:bytes qe_auth_data:QeAuthData pck_certificate_chain_data:PCKCertificateChainData',
  { EnclaveReport, QeAuthData, PCKCertificateChainData },
);

const CertificationData = describe(
  'tdx.CertificationData',
  'certificate_data_type:uint32 size:uint32 qe_report_certification_data:QEReportCertificationData',
  { QEReportCertificationData },
);

const Ecdsa256BitQuoteV4AuthData = describe(
  'tdx.Ecdsa256BitQuoteV4AuthData',
  'signature:bytes ecdsa_attestation_key:bytes certification_data:CertificationData',
  { CertificationData },
);

export const TDX_QUOTE_V4 = describe(
  'tdx.QuoteV4',
  'header:Header td_quote_body:TDQuoteBody signed_data_size:uint32 signed_data:Ecdsa256BitQuoteV4AuthData extra_bytes:bytes',
  { Header, TDQuoteBody, Ecdsa256BitQuoteV4AuthData },
);
