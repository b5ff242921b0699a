/**
 * Platforms the runtime is installed for, and the names derived from them (upstream
 * `internal/platforms`, `internal/manifest/runtimehandler.go`). The platforms and their guest memory
 * come from the one table in lib/node-install/platforms.ts, which the installer's Kata config uses too.
 */
import { createHash } from 'node:crypto';
import {
  factsOf,
  PLATFORM_TABLE,
  POD_OVERHEAD_MIB,
  type NewestPlatformName,
  type PlatformName,
  type SeedPlatformName,
} from '../../lib/node-install/platforms.js';

export type NewestPlatform = NewestPlatformName;
/** The seed generation's platforms (Contrast v1.2), whose runtimes use a snapshotter sidecar. */
export type SeedPlatform = SeedPlatformName;
export type Platform = PlatformName;

export const PLATFORMS: readonly NewestPlatform[] = PLATFORM_TABLE.flatMap((p) =>
  p.generation === 'newest' ? [p.name] : [],
);
export const SEED_PLATFORMS: readonly SeedPlatform[] = PLATFORM_TABLE.flatMap((p) =>
  p.generation === 'seed' ? [p.name] : [],
);

/** Case-insensitive lookup among both generations. */
export function platformByName(name: string): Platform | undefined {
  return PLATFORM_TABLE.find((p) => p.name.toLowerCase() === name.toLowerCase())?.name;
}

export function isGpu(p: Platform): boolean {
  return factsOf(p).gpu;
}

/** Guest memory the Kata config gives a pod VM by default (MiB). */
export function defaultMemoryMiB(p: Platform): number {
  return factsOf(p).guestMemoryMiB;
}

/** RuntimeClass pod overhead: guest memory + 170 MiB (Kata shim ~70 MiB, QEMU ~100 MiB). */
export function overheadMemory(p: Platform): string {
  return `${defaultMemoryMiB(p) + POD_OVERHEAD_MIB}Mi`;
}

/** `contrast-cc-<platform lowercase>-<8 hex>`: the containerd runtime handler and RuntimeClass name. */
export function runtimeHandler(p: Platform, runtimeHash: string): string {
  if (!/^[0-9a-f]{8}$/.test(runtimeHash))
    throw new RangeError(`runtime hash ${JSON.stringify(runtimeHash)}: expected 8 lowercase hex digits`);
  return `contrast-cc-${p.toLowerCase()}-${runtimeHash}`;
}

/**
 * A runtime hash for manifests generated without an installer image at hand: the first 8 hex digits
 * of SHA-256 over the suite version. Deployments pass the hash the installer image reports instead.
 */
export function versionRuntimeHash(version: string): string {
  return createHash('sha256').update(`contrast-ts runtime ${version}`).digest('hex').slice(0, 8);
}
