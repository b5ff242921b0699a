/**
 * Platforms the installer knows, their predicates, and the legacy (pre-target-config) host defaults.
 * Names are matched case-insensitively; `Platform.name` keeps upstream's spelling.
 */
import { PlatformError } from './errors.js';

export type Hypervisor = 'qemu' | 'clh';
export type Tee = 'snp' | 'tdx';

export interface Platform {
  /** Upstream spelling, e.g. `Metal-QEMU-SNP`. */
  readonly name: string;
  readonly hypervisor: Hypervisor;
  readonly tee: Tee;
  readonly gpu: boolean;
  /** Host-relative defaults; legacy K3s/RKE2 names carry their pre-#1692 paths and units. */
  readonly defaults: {
    readonly containerdConfigPath: string;
    readonly units: readonly string[];
  };
}

const ETC_CONTAINERD = 'etc/containerd/config.toml';
const K3S_TEMPLATE = 'var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl';
const RKE2_TEMPLATE = 'var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl';
const CONTAINERD_UNITS = ['containerd.service'];
const K3S_UNITS = ['k3s.service', 'k3s-agent.service'];
const RKE2_UNITS = ['rke2-server.service', 'rke2-agent.service'];

function p(name: string, hypervisor: Hypervisor, tee: Tee, gpu: boolean, cfg: string, units: readonly string[]): Platform {
  return Object.freeze({ name, hypervisor, tee, gpu, defaults: Object.freeze({ containerdConfigPath: cfg, units }) });
}

export const PLATFORMS: readonly Platform[] = Object.freeze([
  p('Metal-QEMU-SNP', 'qemu', 'snp', false, ETC_CONTAINERD, CONTAINERD_UNITS),
  p('Metal-QEMU-SNP-GPU', 'qemu', 'snp', true, ETC_CONTAINERD, CONTAINERD_UNITS),
  p('Metal-QEMU-TDX', 'qemu', 'tdx', false, ETC_CONTAINERD, CONTAINERD_UNITS),
  p('Metal-QEMU-TDX-GPU', 'qemu', 'tdx', true, ETC_CONTAINERD, CONTAINERD_UNITS),
  p('AKS-CLH-SNP', 'clh', 'snp', false, ETC_CONTAINERD, CONTAINERD_UNITS),
  p('K3s-QEMU-SNP', 'qemu', 'snp', false, K3S_TEMPLATE, K3S_UNITS),
  p('K3s-QEMU-SNP-GPU', 'qemu', 'snp', true, K3S_TEMPLATE, K3S_UNITS),
  p('K3s-QEMU-TDX', 'qemu', 'tdx', false, K3S_TEMPLATE, K3S_UNITS),
  p('RKE2-QEMU-TDX', 'qemu', 'tdx', false, RKE2_TEMPLATE, RKE2_UNITS),
]);

/** Case-insensitive lookup; throws PlatformError naming the input and the accepted names. */
export function parsePlatform(text: string | undefined): Platform {
  const wanted = (text ?? '').trim().toLowerCase();
  const found = PLATFORMS.find((pl) => pl.name.toLowerCase() === wanted);
  if (found === undefined) {
    const what = text === undefined || text === '' ? 'missing platform argument' : `unknown platform: ${text}`;
    throw new PlatformError(`${what}: expected one of ${PLATFORMS.map((pl) => pl.name).join(', ')}`);
  }
  return found;
}

/** File name of the Kata configuration for the platform, e.g. `configuration-qemu-snp.toml`. */
export function kataConfigFileName(platform: Platform): string {
  return `configuration-${platform.hypervisor}-${platform.tee}.toml`;
}

/** Default guest memory in MiB (1024 for GPU platforms, 256 for the historic AKS CLH platform, 512 otherwise). */
export function defaultMemoryMiB(platform: Platform): number {
  if (platform.gpu) return 1024;
  return platform.hypervisor === 'clh' ? 256 : 512;
}
