/**
 * The SEV-SNP attestation document's encoder: protobuf `sevsnp.Attestation` (report, optional certificate
 * chain, product) written with lib/protobuf/writer.ts, so that the issuing path loads no protobuf
 * library. The bytes equal protobufjs' (and Go's) encoding: fields by number, proto3 zero scalars and
 * empty bytes in the report left out, the product's machine_stepping wrapper always present.
 * The decoder is in snp-document.ts (on lib/protobuf), which re-exports everything here.
 */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { cpuid1EaxFromFms, type SnpReport } from './snp-report.js';
import { SEV_PRODUCT_ENUM, type SnpProduct } from './snp-product.js';
import { ProtoWriter } from '../protobuf/writer.js';

/** `certificate_chain.extras` key of the AMD CRL (upstream SNPCertChainExtrasCRLKey). */
export const SNP_CRL_EXTRAS_KEY = '00569ee4-e480-4fba-bbf4-45b629901180';

export interface SnpCertificateChain {
  readonly vcek?: Buffer;
  readonly vlek?: Buffer;
  readonly ask?: Buffer;
  readonly ark?: Buffer;
  readonly extras?: Readonly<Record<string, Buffer>>;
}

export interface SnpDocument {
  readonly report: SnpReport;
  readonly chain?: SnpCertificateChain;
  readonly product: SnpProduct;
  /** Upstream always sends a present wrapper with value 0. */
  readonly machineStepping?: number;
}

function invalid(field: string): AttestationError {
  return new AttestationError(
    ATTESTATION_ERROR_CODES.DOCUMENT,
    `encoding sevsnp.Attestation: ${field}: integer expected`,
  );
}

/** A uint32 field left out when zero; a non-integer is an error (as protobufjs' verify has it). */
function u32z(w: ProtoWriter, field: number, v: number, name: string): void {
  if (!Number.isInteger(v)) throw invalid(name);
  if (v !== 0) w.uint32(field, v);
}

/** A uint64 field left out when zero, as Go does. */
function u64z(w: ProtoWriter, field: number, v: bigint): void {
  if (v !== 0n) w.uint64(field, v);
}

/** A bytes field left out when empty, as Go does. */
function bytesz(w: ProtoWriter, field: number, b: Uint8Array): void {
  if (b.length !== 0) w.bytes(field, b);
}

/** `sevsnp.Report` (upstream ReportToProto), fields 1–31 in order. */
function reportMessage(r: SnpReport): ProtoWriter {
  const w = new ProtoWriter();
  const u32 = (field: number, v: number, name: string): void => {
    u32z(w, field, v, `report.${name}`);
  };
  u32(1, r.version, 'version');
  u32(2, r.guestSvn, 'guest_svn');
  u64z(w, 3, BigInt(r.policy));
  bytesz(w, 4, r.familyId);
  bytesz(w, 5, r.imageId);
  u32(6, r.vmpl, 'vmpl');
  u32(7, r.signatureAlgo, 'signature_algo');
  u64z(w, 8, r.currentTcb);
  u64z(w, 9, r.platformInfo);
  u32(10, r.signerInfo, 'signer_info');
  bytesz(w, 11, r.reportData);
  bytesz(w, 12, r.measurement);
  bytesz(w, 13, r.hostData);
  bytesz(w, 14, r.idKeyDigest);
  bytesz(w, 15, r.authorKeyDigest);
  bytesz(w, 16, r.reportId);
  bytesz(w, 17, r.reportIdMa);
  u64z(w, 18, r.reportedTcb);
  bytesz(w, 19, r.chipId);
  u64z(w, 20, r.committedTcb);
  u32(21, r.currentBuild, 'current_build');
  u32(22, r.currentMinor, 'current_minor');
  u32(23, r.currentMajor, 'current_major');
  u32(24, r.committedBuild, 'committed_build');
  u32(25, r.committedMinor, 'committed_minor');
  u32(26, r.committedMajor, 'committed_major');
  u64z(w, 27, r.launchTcb);
  bytesz(w, 28, r.signature);
  u32(29, r.version >= 3 ? cpuid1EaxFromFms(r.cpuidFamily, r.cpuidModel, r.cpuidStepping) : 0, 'cpuid1eax_fms');
  u64z(w, 30, r.launchMitVector);
  u64z(w, 31, r.currentMitVector);
  return w;
}

/** `sevsnp.CertificateChain`: every present certificate is written (even an empty one), then the extras map. */
function chainMessage(c: SnpCertificateChain): ProtoWriter {
  const w = new ProtoWriter();
  if (c.vcek !== undefined) w.bytes(1, c.vcek);
  if (c.ask !== undefined) w.bytes(2, c.ask);
  if (c.ark !== undefined) w.bytes(3, c.ark);
  if (c.vlek !== undefined) w.bytes(6, c.vlek);
  if (c.extras !== undefined) w.stringBytesMap(7, c.extras);
  return w;
}

export function encodeSnpDocument(doc: SnpDocument): Buffer {
  const w = new ProtoWriter().message(1, reportMessage(doc.report));
  const c = doc.chain;
  if (c !== undefined && (c.vcek ?? c.vlek ?? c.ask ?? c.ark) !== undefined) w.message(2, chainMessage(c));
  const product = new ProtoWriter();
  const name = SEV_PRODUCT_ENUM[doc.product] as number | undefined;
  if (name !== undefined && name !== 0) product.int32(1, name);
  const stepping = new ProtoWriter();
  u32z(stepping, 1, doc.machineStepping ?? 0, 'product.machine_stepping.value');
  product.message(3, stepping);
  return w.message(3, product).finish();
}
