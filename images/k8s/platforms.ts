/**
 * Platforms the runtime is installed for, and the names derived from them (upstream
 * `internal/platforms`, `internal/manifest/runtimehandler.go`).
 */
import { createHash } from 'node:crypto';

export type Platform = 'Metal-QEMU-SNP' | 'Metal-QEMU-SNP-GPU' | 'Metal-QEMU-TDX' | 'Metal-QEMU-TDX-GPU';

export const PLATFORMS: readonly Platform[] = ['Metal-QEMU-SNP', 'Metal-QEMU-SNP-GPU', 'Metal-QEMU-TDX', 'Metal-QEMU-TDX-GPU'];

export function isGpu(p: Platform): boolean {
  return p.endsWith('-GPU');
}

/** Guest memory the Kata config gives a pod VM by default (MiB). */
export function defaultMemoryMiB(p: Platform): number {
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
