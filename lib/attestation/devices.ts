/**
 * The seam to the TEE device ioctls (lib/native/tee.ts). Issuers take a `TeeAccess`; tests may pass their
 * own implementation, programs pass `nativeTeeAccess()`, which loads the addon only when called.
 */
export interface SnpCertTableEntry {
  readonly name: string;
  readonly der: Buffer;
}

export interface TeeAccess {
  snpGetExtReport(device: string, reportData: Uint8Array, vmpl: number): Promise<{ report: Buffer; certTable: Buffer }>;
  snpGetReport(device: string, reportData: Uint8Array, vmpl: number): Promise<Buffer>;
  parseSnpCertTable(buf: Buffer): readonly SnpCertTableEntry[];
}
