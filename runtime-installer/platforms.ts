/**
 * Platforms the installer knows, their predicates, and the legacy (pre-target-config) host defaults.
 * Names are matched case-insensitively; `Platform.name` keeps upstream's spelling.
 */
import {
  factsOf,
  PLATFORM_TABLE,
  type Hypervisor,
  type PlatformFacts,
  type PlatformName,
  type Tee,
} from '../lib/node-install/platforms.js';
import { PlatformError } from './errors.js';

export type { Hypervisor, Tee };

/** A row of the shared platform table (lib/node-install/platforms.ts) with the installer's host defaults. */
export interface Platform extends PlatformFacts {
  /** Upstream spelling, e.g. `Metal-QEMU-SNP`. */
  readonly name: string;
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

/** Host defaults by the platform's distribution (the name's first word). */
function hostDefaults(name: PlatformName): Platform['defaults'] {
  if (name.startsWith('K3s-')) return { containerdConfigPath: K3S_TEMPLATE, units: K3S_UNITS };
  if (name.startsWith('RKE2-')) return { containerdConfigPath: RKE2_TEMPLATE, units: RKE2_UNITS };
  return { containerdConfigPath: ETC_CONTAINERD, units: CONTAINERD_UNITS };
}

export const PLATFORMS: readonly Platform[] = Object.freeze(
  PLATFORM_TABLE.map((row) => Object.freeze({ ...factsOf(row.name), defaults: Object.freeze(hostDefaults(row.name)) })),
);

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

/** Default guest memory in MiB, from the shared platform table (the RuntimeClass overhead uses it too). */
export function defaultMemoryMiB(platform: Platform): number {
  return platform.guestMemoryMiB;
}
