/**
 * The platform table: every platform the runtime is installed for, with the facts both the installer
 * (Kata config, host defaults) and the generated manifests (RuntimeClass overhead, handler names) use.
 * One row per platform (upstream `internal/platforms`); names keep upstream's spelling and are matched
 * case-insensitively.
 */

export type Hypervisor = 'qemu' | 'clh';
export type Tee = 'snp' | 'tdx';
/** `newest`: the current platforms; `seed`: Contrast v1.2's, whose runtimes use a snapshotter sidecar. */
export type Generation = 'newest' | 'seed';

export interface PlatformFacts {
  readonly name: string;
  readonly hypervisor: Hypervisor;
  readonly tee: Tee;
  readonly gpu: boolean;
  readonly generation: Generation;
  /** Guest memory the Kata config gives a pod VM by default (MiB). */
  readonly guestMemoryMiB: number;
}

export const PLATFORM_TABLE = [
  { name: 'Metal-QEMU-SNP', hypervisor: 'qemu', tee: 'snp', gpu: false, generation: 'newest', guestMemoryMiB: 512 },
  { name: 'Metal-QEMU-SNP-GPU', hypervisor: 'qemu', tee: 'snp', gpu: true, generation: 'newest', guestMemoryMiB: 1024 },
  { name: 'Metal-QEMU-TDX', hypervisor: 'qemu', tee: 'tdx', gpu: false, generation: 'newest', guestMemoryMiB: 512 },
  { name: 'Metal-QEMU-TDX-GPU', hypervisor: 'qemu', tee: 'tdx', gpu: true, generation: 'newest', guestMemoryMiB: 1024 },
  { name: 'AKS-CLH-SNP', hypervisor: 'clh', tee: 'snp', gpu: false, generation: 'seed', guestMemoryMiB: 256 },
  { name: 'K3s-QEMU-SNP', hypervisor: 'qemu', tee: 'snp', gpu: false, generation: 'seed', guestMemoryMiB: 512 },
  { name: 'K3s-QEMU-SNP-GPU', hypervisor: 'qemu', tee: 'snp', gpu: true, generation: 'seed', guestMemoryMiB: 1024 },
  { name: 'K3s-QEMU-TDX', hypervisor: 'qemu', tee: 'tdx', gpu: false, generation: 'seed', guestMemoryMiB: 512 },
  { name: 'RKE2-QEMU-TDX', hypervisor: 'qemu', tee: 'tdx', gpu: false, generation: 'seed', guestMemoryMiB: 512 },
] as const satisfies readonly PlatformFacts[];

type Row = (typeof PLATFORM_TABLE)[number];
export type PlatformName = Row['name'];
export type NewestPlatformName = Extract<Row, { generation: 'newest' }>['name'];
export type SeedPlatformName = Extract<Row, { generation: 'seed' }>['name'];

/** RuntimeClass pod overhead on top of guest memory (MiB): Kata shim ~70 MiB, QEMU ~100 MiB. */
export const POD_OVERHEAD_MIB = 170;

/** Case-insensitive lookup (surrounding blanks ignored). */
export function platformFacts(name: string): (PlatformFacts & { readonly name: PlatformName }) | undefined {
  const wanted = name.trim().toLowerCase();
  return PLATFORM_TABLE.find((p) => p.name.toLowerCase() === wanted);
}

/** The facts of a name known to be in the table. */
export function factsOf(name: PlatformName): PlatformFacts {
  const found = platformFacts(name);
  if (found === undefined) throw new Error(`platform table: no row for ${name}`);
  return found;
}
