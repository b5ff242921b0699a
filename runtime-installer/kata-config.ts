/**
 * The Kata `configuration.toml` for a platform: base (kata-templates.ts) plus Contrast's overrides
 * (paths under /opt/edgeless/<handler>, kernel parameters from the manifest, memory and timeout
 * defaults, debug). Rendered with lowercase tables; `[agent.kata]` is always present.
 */
import { stringify } from 'smol-toml';
import { defaultMemoryMiB, type Platform } from './platforms.js';
import { clhSnpBase, qemuSnpBase, qemuTdxBase, type KataBase } from './kata-templates.js';

export interface KataOptions {
  readonly handler: string;
  readonly debug: boolean;
  readonly kernelParams: string;
  /** Host path of the imagepuller config, or '' when none was installed. */
  readonly imagepullerConfig: string;
}

const SNP_ANNOTATIONS = [
  'snp_id_block_Milan',
  'snp_id_auth_Milan',
  'snp_guest_policy_Milan',
  'snp_id_block_Genoa',
  'snp_id_auth_Genoa',
  'snp_guest_policy_Genoa',
  'cc_init_data',
];

export function kataConfig(platform: Platform, options: KataOptions): KataBase {
  const b = `/opt/edgeless/${options.handler}`;
  if (platform.hypervisor === 'clh') {
    const base = clhSnpBase();
    const clh = base.hypervisor['clh'] ?? {};
    Object.assign(clh, {
      path: `${b}/bin/cloud-hypervisor-snp`,
      valid_hypervisor_paths: [`${b}/bin/cloud-hypervisor-snp`],
      igvm: `${b}/share/kata-containers-igvm.img`,
      kernel_params: '',
      image: `${b}/share/kata-containers.img`,
      default_memory: defaultMemoryMiB(platform),
      enable_annotations: [],
      confidential_guest: true,
      sev_snp_guest: true,
      shared_fs: 'none',
      snp_guest_policy: 196608,
      enable_debug: options.debug,
    });
    delete clh['kernel'];
    Object.assign(base.runtime, { sandbox_cgroup_only: true, static_sandbox_resource_mgmt: true });
    Object.assign(base.agent['kata'] ?? {}, { dial_timeout: 90 });
    applyDebug(base, options.debug);
    return base;
  }
  const base = platform.tee === 'tdx' ? qemuTdxBase() : qemuSnpBase();
  const qemu = base.hypervisor['qemu'] ?? {};
  const qemuPath = `${b}/bin/qemu-system-x86_64`;
  Object.assign(qemu, {
    path: qemuPath,
    valid_hypervisor_paths: [qemuPath],
    firmware: `${b}/${platform.tee}/share/OVMF.fd`,
    kernel: `${b}/share/kata-kernel`,
    initrd: `${b}/share/kata-initrd.zst`,
    image: `${b}/share/kata-containers.img`,
    rootfs_type: 'erofs',
    kernel_params: options.kernelParams,
    enable_debug: options.debug,
    enable_annotations: platform.tee === 'snp' ? SNP_ANNOTATIONS : ['cc_init_data'],
    default_memory: defaultMemoryMiB(platform),
    block_device_aio: 'threads',
    disable_image_nvdimm: true,
    contrast_imagepuller_config: options.imagepullerConfig,
  });
  if (platform.tee === 'tdx') qemu['kernel_verity_params'] = '';
  if (platform.gpu) qemu['cold_plug_vfio'] = 'root-port';
  Object.assign(base.runtime, {
    sandbox_cgroup_only: true,
    experimental_force_guest_pull: true,
    emptydir_mode: 'shared-fs',
    create_container_timeout: platform.gpu ? 600 : 120,
  });
  if (platform.gpu) base.runtime['pod_resource_api_sock'] = '/var/lib/kubelet/pod-resources/kubelet.sock';
  Object.assign(base.agent['kata'] ?? {}, { dial_timeout: platform.gpu ? 600 : 120 });
  applyDebug(base, options.debug);
  return base;
}

function applyDebug(base: KataBase, debug: boolean): void {
  if (!debug) return;
  Object.assign(base.agent['kata'] ?? {}, { enable_debug: true, debug_console_enabled: true });
  base.runtime['enable_debug'] = true;
}

/** TOML text with tables in upstream's order: hypervisor, agent, runtime, factory, image. */
export function renderKataConfig(config: KataBase): string {
  return stringify({
    hypervisor: config.hypervisor,
    agent: config.agent,
    runtime: config.runtime,
    factory: config.factory,
    image: config.image,
  });
}
