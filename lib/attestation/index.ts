/** The attestation area's public face. Consumers import from here. */
export { DOCUMENT_OIDS, type AttestationKind, type Issuer, type Validator, type ValidatedDocument } from './types.js';
export { AttestationError, ATTESTATION_ERROR_CODES, type AttestationErrorCode } from './errors.js';
export { reportDataFor, REPORT_DATA_SIZE } from './reportdata.js';
export { readAttestationConfig, ATTESTATION_DEFAULTS, INSECURE_CMDLINE_FLAG, type AttestationConfig, type AttestationMode } from './config.js';
export { createIssuer, detectPlatform, insecureAllowed, type Platform, type IssuerDeps } from './platform.js';
export { createValidators, SnpValidator, TdxValidator, type ValidatorsOptions, type SnpValidatorOptions, type TdxValidatorOptions } from './validators.js';
export { InsecureIssuer, InsecureValidator } from './insecure.js';
export { parseSnpReport, type SnpReport } from './snp-report.js';
export { parseTdxQuote, type TdxQuote } from './tdx-quote.js';
export { encodeSnpDocument, decodeSnpDocument, type SnpDocument } from './snp-document.js';
export { encodeTdxDocument, decodeTdxDocument } from './tdx-document.js';
export { inspect, recognise } from './inspect.js';
export { INTEL_SGX_ROOT_CA_PEM } from './intel-root.js';
export type { TeeAccess } from './devices.js';
