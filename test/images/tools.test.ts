/**
 * Every image target, built with a stand-in program where the real one is not in the tree yet: the
 * tools each image promises (iptables legacy and nft, busybox applets, bash, our sleep, socat) start
 * inside it under runc, and an image that runs no upstream command has no shell. What upstream's commands do
 * in the images is checked by upstream-commands.test.ts.
 */
import test from 'ava';
import { runInImage } from './runc.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuiltImage } from '../../images/image-builder.js';
import { buildWithStandIns } from './stand-in-images.js';
import { TARGETS, type ImageTarget } from '../../images/targets.js';
import { UPSTREAM_COMMANDS } from '../../images/upstream-commands.js';

const WORK = mkdtempSync(join(tmpdir(), `images-tools-${process.pid}-`));
test.after.always(() => {
  rmSync(WORK, { recursive: true, force: true });
});

const built = buildWithStandIns(WORK);

function run(
  t: import('ava').ExecutionContext,
  target: ImageTarget,
  image: BuiltImage,
  argv: readonly string[],
): { status: number | null; out: string } {
  const r = runInImage(t, { layout: image.dir, ref: target.name, work: WORK, argv });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const checks: Record<string, [string[], RegExp][]> = {
  initializer: [
    [['/bin/initializer', '--version'], /\d+\.\d+\.\d+|stand-in --version/],
    [['/usr/sbin/iptables-legacy', '--version'], /iptables v[\d.]+ \(legacy\)/],
    [['/usr/sbin/iptables-nft', '--version'], /iptables v[\d.]+ \(nf_tables\)/],
    [['/usr/sbin/iptables', '--version'], /\(legacy\)/],
    [['/usr/sbin/ip6tables', '--version'], /ip6tables v[\d.]+ \(legacy\)/],
    [['/usr/sbin/cryptsetup', '--version'], /^cryptsetup 2\./],
    [['/usr/sbin/mkfs.ext4', '-V'], /mke2fs 1\./],
    [['/usr/bin/mount', '--version'], /mount from util-linux/],
    [['/usr/bin/umount', '--version'], /umount from util-linux/],
    [['/bin/sh', '-c', 'test -d / && echo "shell-ok $BASH_VERSION"'], /shell-ok 5\./],
    [['/bin/sleep', '--help'], /^Usage: sleep NUMBER\[SUFFIX\]/],
    [['/bin/sh', '-c', 'sleep 0.1 && echo slept'], /^slept$/m],
    [['/bin/busybox'], /BusyBox v[\d.]+/],
  ],
  meshproxy: [
    [['/bin/service-mesh', '--version'], /\d+\.\d+\.\d+|stand-in --version/],
    [['/usr/sbin/iptables-legacy', '--version'], /iptables v[\d.]+ \(legacy\)/],
    [['/usr/sbin/ip6tables-nft', '--version'], /ip6tables v[\d.]+ \(nf_tables\)/],
    [['/usr/sbin/iptables-legacy-save', '--version'], /iptables-save v[\d.]+ \(legacy\)/],
    [['test', '-f', '/usr/share/misc/contrast/version.txt'], /^$/],
    [['/bin/sh', '-c', 'echo shell-ok'], /shell-ok/],
  ],
  'runtime-installer': [[['/bin/node-installer', '--version'], /\d+\.\d+\.\d+|stand-in --version/]],
  'port-forwarder': [
    [['/bin/port-forwarder', '--version'], /\d+\.\d+\.\d+|stand-in --version/],
    [['/bin/bash', '-c', 'echo "bash $BASH_VERSION"'], /^bash 5\./],
    [['socat', '-V'], /socat version \d/],
  ],
};

for (const target of TARGETS) {
  test(`${target.name}: the image's tools run under runc`, async (t) => {
    const image = (await built).get(target.name)!;
    for (const [argv, expected] of checks[target.name] ?? []) {
      const r = run(t, target, image, argv);
      t.is(r.status, 0, `${argv.join(' ')}: ${r.out}`);
      t.regex(r.out, expected, argv.join(' '));
    }
    if (!UPSTREAM_COMMANDS.some((c) => c.target === target.name)) {
      t.not(run(t, target, image, ['/bin/sh', '-c', 'true']).status, 0, 'no shell where no upstream command needs one');
      t.not(run(t, target, image, ['/usr/bin/test', '-e', '/']).status, 0, 'no test binary where no probe needs it');
    }
  });
}

test('the xtables extensions the meshproxy rules use are in the image (TPROXY, conntrack, tcp)', async (t) => {
  const image = (await built).get('meshproxy')!;
  const layer = image.layers[1]!.digest.slice('sha256:'.length);
  const names = execFileSync('tar', ['-tzf', join(image.dir, 'blobs', 'sha256', layer)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  for (const ext of ['libxt_TPROXY.so', 'libxt_conntrack.so', 'libxt_tcp.so', 'libxt_standard.so']) {
    t.regex(names, new RegExp(`xtables/${ext.replace('.', '\\.')}$`, 'm'), ext);
  }
});
