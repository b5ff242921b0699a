import test from 'ava';
import { parse } from 'smol-toml';
import { kataConfig, renderKataConfig } from '../../runtime-installer/kata-config.js';
import { parsePlatform } from '../../runtime-installer/platforms.js';

const B = '/opt/edgeless/h';
type T = Record<string, Record<string, Record<string, unknown>>>;

function render(platform: string, debug = false) {
  const text = renderKataConfig(
    kataConfig(parsePlatform(platform), {
      handler: 'h',
      debug,
      kernelParams: 'console=ttyS0 foo=bar',
      imagepullerConfig: '',
    }),
  );
  return { text, cfg: parse(text) as unknown as T };
}

const cases: [string, 'snp' | 'tdx', boolean][] = [
  ['Metal-QEMU-SNP', 'snp', false],
  ['Metal-QEMU-SNP-GPU', 'snp', true],
  ['Metal-QEMU-TDX', 'tdx', false],
  ['Metal-QEMU-TDX-GPU', 'tdx', true],
];
for (const [name, tee, gpu] of cases) {
  test(`kata config for ${name} carries upstream's overrides`, (t) => {
    const { text, cfg } = render(name);
    t.regex(text, /^\[hypervisor\.qemu\]/m);
    t.regex(text, /^\[agent\.kata\]/m);
    const q = cfg['hypervisor']!['qemu']!;
    t.is(q['path'], `${B}/bin/qemu-system-x86_64`);
    t.deepEqual(q['valid_hypervisor_paths'], [`${B}/bin/qemu-system-x86_64`]);
    t.is(q['firmware'], `${B}/${tee}/share/OVMF.fd`);
    t.is(q['kernel'], `${B}/share/kata-kernel`);
    t.is(q['initrd'], `${B}/share/kata-initrd.zst`);
    t.is(q['image'], `${B}/share/kata-containers.img`);
    t.is(q['rootfs_type'], 'erofs');
    t.is(q['kernel_params'], 'console=ttyS0 foo=bar');
    t.is(q['default_memory'], gpu ? 1024 : 512);
    t.is(q['block_device_aio'], 'threads');
    t.is(q['disable_image_nvdimm'], true);
    t.is(q['enable_debug'], false);
    t.is(q['contrast_imagepuller_config'], '');
    t.is(q['confidential_guest'], true);
    t.is(q['shared_fs'], 'none');
    t.deepEqual(
      q['enable_annotations'],
      tee === 'snp'
        ? [
            'snp_id_block_Milan',
            'snp_id_auth_Milan',
            'snp_guest_policy_Milan',
            'snp_id_block_Genoa',
            'snp_id_auth_Genoa',
            'snp_guest_policy_Genoa',
            'cc_init_data',
          ]
        : ['cc_init_data'],
    );
    if (tee === 'tdx') t.is(q['kernel_verity_params'], '');
    else t.is(q['sev_snp_guest'], true);
    t.is(q['cold_plug_vfio'], gpu ? 'root-port' : 'no-port');
    const r = cfg['runtime'] as unknown as Record<string, unknown>;
    t.is(r['sandbox_cgroup_only'], true);
    t.is(r['experimental_force_guest_pull'], true);
    t.is(r['emptydir_mode'], 'shared-fs');
    t.is(r['create_container_timeout'], gpu ? 600 : 120);
    t.is(r['pod_resource_api_sock'], gpu ? '/var/lib/kubelet/pod-resources/kubelet.sock' : undefined);
    t.is(cfg['agent']!['kata']!['dial_timeout'], gpu ? 600 : 120);
  });
}

test('debug settings', (t) => {
  const { cfg } = render('Metal-QEMU-SNP', true);
  t.is(cfg['hypervisor']!['qemu']!['enable_debug'], true);
  t.is(cfg['agent']!['kata']!['enable_debug'], true);
  t.is(cfg['agent']!['kata']!['debug_console_enabled'], true);
  t.is((cfg['runtime'] as unknown as Record<string, unknown>)['enable_debug'], true);
});

test('Cloud-Hypervisor SNP (AKS-CLH-SNP)', (t) => {
  const { cfg } = render('AKS-CLH-SNP');
  const c = cfg['hypervisor']!['clh']!;
  t.is(c['path'], `${B}/bin/cloud-hypervisor-snp`);
  t.deepEqual(c['valid_hypervisor_paths'], [`${B}/bin/cloud-hypervisor-snp`]);
  t.is(c['igvm'], `${B}/share/kata-containers-igvm.img`);
  t.is(c['kernel'], undefined);
  t.is(c['kernel_params'], '');
  t.is(c['image'], `${B}/share/kata-containers.img`);
  t.is(c['default_memory'], 256);
  t.deepEqual(c['enable_annotations'], []);
  t.is(c['snp_guest_policy'], 196608);
  t.is(cfg['agent']!['kata']!['dial_timeout'], 90);
  t.is((cfg['runtime'] as unknown as Record<string, unknown>)['static_sandbox_resource_mgmt'], true);
});
