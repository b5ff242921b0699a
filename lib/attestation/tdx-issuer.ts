/**
 * TDX issuer: a v4 quote over the caller's report data from configfs-tsm (provider tdx_guest),
 * encoded as `tdx.QuoteV4` with the driver's trailing bytes preserved.
 */
import type { Logger } from '../log.js';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { checkReportData } from './reportdata.js';
import { sameBytes } from './bytes.js';
import { parseTdxQuote } from './tdx-quote.js';
import { encodeTdxDocument } from './tdx-document-encode.js';
import { tsmGetReport } from './configfs-tsm.js';
import { DOCUMENT_OIDS, type Issuer } from './types.js';

export class TdxIssuer implements Issuer {
  readonly kind = 'tdx' as const;
  readonly oid = DOCUMENT_OIDS.tdx;

  constructor(private readonly opts: { readonly tsmReportDir: string; readonly logger: Logger }) {}

  async issue(reportData: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    checkReportData(reportData);
    signal?.throwIfAborted();
    const r = await tsmGetReport(this.opts.tsmReportDir, { inblob: reportData });
    if (r.provider !== 'tdx_guest') {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.DEVICE,
        `configfs-tsm ${this.opts.tsmReportDir}: provider is "${r.provider}", expected tdx_guest`,
      );
    }
    const quote = parseTdxQuote(r.outblob);
    if (quote.version !== 4) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.UNSUPPORTED_VERSION,
        `TDX quote from configfs-tsm: version ${quote.version}, the Coordinator accepts only 4`,
      );
    }
    if (!sameBytes(quote.body.reportData, reportData)) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.DEVICE,
        'TDX quote: REPORTDATA differs from the requested report data',
      );
    }
    this.opts.logger.debug({ size: r.outblob.length, extraBytes: quote.extraBytes.length }, 'issued TDX quote');
    return encodeTdxDocument(quote);
  }
}
