/**
 * Base Kata configurations, one per hypervisor/TEE. Upstream embeds the verbatim Kata release files;
 * these bases carry the keys and template values that upstream's expected outputs show (spec §6.2),
 * plus Kata's defaults for the keys the runtime reads. Overrides are applied by kata-config.ts.
 */

export type KataTable = Record<string, unknown>;

export interface KataBase {
  readonly hypervisor: Record<string, KataTable>;
  readonly agent: Record<string, KataTable>;
  readonly runtime: KataTable;
  readonly factory: KataTable;
  readonly image: KataTable;
}

function qemuCommon(): KataTable {
  return {
    path: '/opt/kata/bin/qemu-system-x86_64',
    kernel: '/opt/kata/share/kata-containers/vmlinuz-confidential.container',
    initrd: '',
    image: '/opt/kata/share/kata-containers/kata-containers-confidential.img',
    rootfs_type: 'ext4',
    machine_type: 'q35',
    confidential_guest: true,
    firmware: '',
    firmware_volume: '',
    machine_accelerators: '',
    cpu_features: 'pmu=off',
    kernel_params: 'cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1',
    default_vcpus: 1,
    default_maxvcpus: 0,
    default_bridges: 1,
    default_memory: 2048,
    memory_slots: 10,
    default_maxmemory: 0,
    disable_block_device_use: false,
    shared_fs: 'none',
    virtio_fs_daemon: '/opt/kata/libexec/virtiofsd',
    valid_virtio_fs_daemon_paths: ['/opt/kata/libexec/virtiofsd'],
    block_device_driver: 'virtio-scsi',
    block_device_aio: 'io_uring',
    enable_iothreads: false,
    enable_vhost_user_store: false,
    disable_image_nvdimm: false,
    hotplug_vfio_on_root_bus: false,
    pcie_root_port: 0,
    disable_vhost_net: false,
    entropy_source: '/dev/urandom',
    valid_entropy_sources: ['/dev/urandom', '/dev/random', ''],
    enable_annotations: ['enable_iommu', 'virtio_fs_extra_args', 'kernel_params'],
    valid_hypervisor_paths: ['/opt/kata/bin/qemu-system-x86_64'],
    disable_guest_seccomp: true,
    enable_debug: false,
    static_sandbox_resource_mgmt: true,
    guest_memory_dump_path: '',
    guest_memory_dump_paging: false,
    cold_plug_vfio: 'no-port',
    hot_plug_vfio: 'no-port',
  };
}

function runtimeCommon(): KataTable {
  return {
    enable_debug: false,
    internetworking_model: 'tcfilter',
    disable_guest_seccomp: true,
    sandbox_cgroup_only: false,
    static_sandbox_resource_mgmt: true,
    disable_guest_empty_dir: true,
    vfio_mode: 'guest-kernel',
    kubelet_root_dir: '/var/lib/kubelet',
    experimental: [],
    create_container_timeout: 60,
    dan_conf: '/run/kata-containers/dans',
  };
}

function agentCommon(): KataTable {
  return { enable_debug: false, debug_console_enabled: false, dial_timeout: 45 };
}

export function qemuSnpBase(): KataBase {
  return {
    hypervisor: {
      qemu: { ...qemuCommon(), sev_snp_guest: true, snp_id_block: '', snp_id_auth: '', snp_guest_policy: 196608 },
    },
    agent: { kata: agentCommon() },
    runtime: runtimeCommon(),
    factory: {},
    image: {},
  };
}

export function qemuTdxBase(): KataBase {
  return {
    hypervisor: {
      qemu: {
        ...qemuCommon(),
        kernel_verity_params: 'root_hash=,salt=,data_blocks=,data_block_size=,hash_block_size=',
        tdx_quote_generation_service_socket_port: 4050,
      },
    },
    agent: { kata: agentCommon() },
    runtime: runtimeCommon(),
    factory: {},
    image: {},
  };
}

export function clhSnpBase(): KataBase {
  return {
    hypervisor: {
      clh: {
        path: '/usr/bin/cloud-hypervisor-snp',
        igvm: '',
        kernel: '/usr/share/cloud-hypervisor/vmlinux.bin',
        image: '',
        kernel_params: '',
        rootfs_type: 'ext4',
        block_device_driver: 'virtio-blk',
        confidential_guest: true,
        sev_snp_guest: true,
        snp_guest_policy: 196608,
        shared_fs: 'none',
        default_vcpus: 1,
        default_memory: 2048,
        enable_annotations: [],
        valid_hypervisor_paths: [],
        enable_debug: false,
      },
    },
    agent: { kata: agentCommon() },
    runtime: { ...runtimeCommon(), static_sandbox_resource_mgmt: false },
    factory: {},
    image: {},
  };
}
