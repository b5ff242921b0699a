/**
 * Platforms the runtime is installed for, and the names derived from them (upstream
 * `internal/platforms`, `internal/manifest/runtimehandler.go`).
 */
import { createHash } from 'node:crypto';

export type NewestPlatform = 'Metal-QEMU-SNP' | 'Metal-QEMU-SNP-GPU' | 'Metal-QEMU-TDX' | 'Metal-QEMU-TDX-GPU';
/** The seed generation's platforms (Contrast v1.2), whose runtimes use a snapshotter sidecar. */
export type SeedPlatform = 'AKS-CLH-SNP' | 'K3s-QEMU-SNP' | 'K3s-QEMU-SNP-GPU' | 'K3s-QEMU-TDX' | 'RKE2-QEMU-TDX';
export type Platform = NewestPlatform | SeedPlatform;

export const PLATFORMS: readonly NewestPlatform[] = ['Metal-QEMU-SNP', 'Metal-QEMU-SNP-GPU', 'Metal-QEMU-TDX', 'Metal-QEMU-TDX-GPU'];
export const SEED_PLATFORMS: readonly SeedPlatform[] = ['AKS-CLH-SNP', 'K3s-QEMU-SNP', 'K3s-QEMU-SNP-GPU', 'K3s-QEMU-TDX', 'RKE2-QEMU-TDX'];

/** Case-insensitive lookup among both generations. */
export function platformByName(name: string): Platform | undefined {
  return [...PLATFORMS, ...SEED_PLATFORMS].find((p) => p.toLowerCase() === name.toLowerCase());
}

export function isGpu(p: Platform): boolean {
  return p.endsWith('-GPU');
}

/** Guest memory the Kata config gives a pod VM by default (MiB). */
export function defaultMemoryMiB(p: Platform): number {
  if (p === 'AKS-CLH-SNP') return 256;
  return isGpu(p) ? 1024 : 512;
}

/** RuntimeClass pod overhead: guest memory + 170 MiB (Kata shim ~70 MiB, QEMU ~100 MiB). */
export function overheadMemory(p: Platform): string {
  return `${defaultMemoryMiB(p) + 170}Mi`;
}

/** `contrast-cc-<platform lowercase>-<8 hex>`: the containerd runtime handler and RuntimeClass name. */
export function runtimeHandler(p: Platform, runtimeHash: string): string {
  if (!/^[0-9a-f]{8}$/.test(runtimeHash)) throw new RangeError(`runtime hash ${JSON.stringify(runtimeHash)}: expected 8 lowercase hex digits`);
  return `contrast-cc-${p.toLowerCase()}-${runtimeHash}`;
}

/**
 * A runtime hash for manifests generated without an installer image at hand: the first 8 hex digits
 * of SHA-256 over the suite version. Deployments pass the hash the installer image reports instead.
 */
export function versionRuntimeHash(version: string): string {
  return createHash('sha256').update(`contrast-ts runtime ${version}`).digest('hex').slice(0, 8);
}
