/**
 * One platform table (lib/node-install/platforms.ts): the generated manifests (images/k8s) and the
 * installer's Kata config (runtime-installer) list the same platforms, and each RuntimeClass's pod
 * overhead is the guest memory the installer writes into that platform's Kata config plus the fixed
 * shim/VMM share.
 */
import test from 'ava';
import { parse } from 'smol-toml';
import type { IRuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import { allManifests, DEFAULT_MANIFEST_OPTIONS } from '../../images/k8s/manifests.js';
import {
  PLATFORMS as MANIFEST_PLATFORMS,
  SEED_PLATFORMS,
  type Platform as ManifestPlatform,
} from '../../images/k8s/platforms.js';
import { runtimeClass } from '../../images/k8s/runtime.js';
import { PLATFORM_TABLE, POD_OVERHEAD_MIB } from '../../lib/node-install/platforms.js';
import { VERSION } from '../../lib/version.js';
import { kataConfig, renderKataConfig } from '../../runtime-installer/kata-config.js';
import { parsePlatform, PLATFORMS as INSTALLER_PLATFORMS } from '../../runtime-installer/platforms.js';

const RUNTIME = {
  runtimeHash: '0badcafe',
  installerImage: 'img/installer:1',
  namespace: 'kube-system',
  pauseImage: 'registry.k8s.io/pause:3.6',
};

/** default_memory of the Kata config the installer renders for the platform, read back from the TOML. */
function kataGuestMemory(name: string): number {
  const platform = parsePlatform(name);
  const text = renderKataConfig(
    kataConfig(platform, { handler: 'h', debug: false, kernelParams: '', imagepullerConfig: '' }),
  );
  const hypervisor = (parse(text) as { hypervisor: Record<string, { default_memory?: unknown }> }).hypervisor[
    platform.hypervisor
  ];
  const memory = hypervisor?.default_memory;
  if (typeof memory !== 'number') throw new Error(`${name}: no default_memory in the Kata config`);
  return memory;
}

function overheadMiB(rc: IRuntimeClass): number {
  const text = String(rc.overhead?.podFixed?.['memory']);
  const m = /^(\d+)Mi$/.exec(text);
  if (m === null) throw new Error(`${rc.metadata?.name ?? ''}: overhead ${text} is not in Mi`);
  return Number(m[1]);
}

test("the installer and the manifests know the same platforms, in the table's order", (t) => {
  const table = PLATFORM_TABLE.map((p) => p.name);
  t.deepEqual(
    INSTALLER_PLATFORMS.map((p) => p.name),
    table,
  );
  t.deepEqual([...MANIFEST_PLATFORMS, ...SEED_PLATFORMS], table);
  t.is(new Set(table.map((n) => n.toLowerCase())).size, table.length, 'names differ in more than case');
});

test("the generated RuntimeClasses' overhead is the installer's Kata guest memory + the shim/VMM share", (t) => {
  const classes = [...allManifests({ ...DEFAULT_MANIFEST_OPTIONS, version: VERSION }).values()]
    .flat()
    .filter((o): o is IRuntimeClass & { kind: 'RuntimeClass' } => o.kind === 'RuntimeClass');
  t.true(classes.length >= MANIFEST_PLATFORMS.length, `${classes.length} RuntimeClasses generated`);
  for (const rc of classes) {
    const platform = MANIFEST_PLATFORMS.find(
      (p) =>
        rc.handler.startsWith(`contrast-cc-${p.toLowerCase()}-`) &&
        /^[0-9a-f]{8}$/.test(rc.handler.slice(`contrast-cc-${p.toLowerCase()}-`.length)),
    );
    if (platform === undefined) {
      t.fail(`RuntimeClass ${rc.handler} names no platform`);
      continue;
    }
    t.is(overheadMiB(rc), kataGuestMemory(platform) + POD_OVERHEAD_MIB, rc.handler);
  }
});

test('every platform of both generations: RuntimeClass overhead and Kata guest memory agree', (t) => {
  const all: ManifestPlatform[] = [...MANIFEST_PLATFORMS, ...SEED_PLATFORMS];
  for (const p of all) {
    const memory = kataGuestMemory(p);
    t.true(memory >= 256, `${p}: ${memory} MiB`);
    t.is(overheadMiB(runtimeClass(p, RUNTIME)), memory + POD_OVERHEAD_MIB, p);
  }
});
