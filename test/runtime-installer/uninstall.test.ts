/**
 * Install receipt and uninstall: uninstall removes exactly what install added (the host tree after
 * uninstall equals the tree before install), works on the handler of the receipt, and says so when
 * there is nothing to remove.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createFakeNode, runInstaller, shippedManifest, snapshotTree, type FakeNode } from './helpers/host.js';

function node(t: ExecutionContext, ...args: Parameters<typeof createFakeNode>): FakeNode {
  const n = createFakeNode(...args);
  t.teardown(() => {
    n.cleanup();
  });
  mkdirSync(n.targetConfigDir);
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  return n;
}

function errorsOf(r: { lines: Record<string, unknown>[] }): Record<string, unknown>[] {
  return r.lines.filter((l) => String(l['level']).toLowerCase() === 'error');
}

test('k3s template mode: uninstall deletes the template install created; the host is as before', async (t) => {
  const rendered = 'var/lib/rancher/k3s/agent/etc/containerd/config.toml';
  const n = node(t, 'k3s-rendered.toml', rendered);
  const handler = 'contrast-cc-k3s-qemu-tdx-rcpt0001';
  n.writeManifest(shippedManifest(n, { handler }));
  const before = snapshotTree(n.host);
  const r1 = await runInstaller(['K3s-QEMU-TDX'], n.env());
  t.is(r1.code, 0, r1.stderr);
  t.true(existsSync(join(n.host, `${rendered}.tmpl`)));
  const receipt = JSON.parse(readFileSync(join(n.host, `opt/edgeless/.receipts/${handler}.json`), 'utf8')) as {
    handler: string;
    files: string[];
    configEdits: { kind: string; path: string; templateCreated: boolean }[];
  };
  t.is(receipt.handler, handler);
  t.true(receipt.files.includes(`/opt/edgeless/${handler}/etc/configuration-qemu-tdx.toml`));
  t.deepEqual(
    receipt.configEdits.map((e) => [e.kind, e.path, e.templateCreated]),
    [['containerd-runtime', `/${rendered}.tmpl`, true]],
  );
  const r2 = await runInstaller(['uninstall', 'K3s-QEMU-TDX'], n.env());
  t.is(r2.code, 0, r2.stderr);
  t.deepEqual(snapshotTree(n.host), before);
});

test('artifacts outside /opt/edgeless/<handler>, the backup and an empty /opt/edgeless go; the config is restored', async (t) => {
  const n = node(t);
  const handler = 'contrast-cc-metal-qemu-snp-rcpt0002';
  const manifest = shippedManifest(n, { handler }) as { files: Record<string, unknown>[] };
  manifest.files.push({ url: manifest.files[0]?.['url'], path: '/usr/local/lib/contrast/extra.img' });
  manifest.files.push({ url: manifest.files[1]?.['url'], path: '/opt/edgeless/shared/kernel' });
  n.writeManifest(manifest);
  // A directory that existed before and must stay (with its other content).
  mkdirSync(join(n.host, 'usr/local/lib'), { recursive: true });
  writeFileSync(join(n.host, 'usr/local/lib/other'), 'not ours\n');
  const before = snapshotTree(n.host);
  const r1 = await runInstaller(['Metal-QEMU-SNP'], n.env());
  t.is(r1.code, 0, r1.stderr);
  t.true(existsSync(join(n.host, 'usr/local/lib/contrast/extra.img')));
  t.is(readdirSync(join(n.host, 'etc/containerd')).filter((f) => f.endsWith('.bak')).length, 1);
  // A re-run changes nothing, the receipt included.
  const mid = snapshotTree(n.host);
  const r2 = await runInstaller(['Metal-QEMU-SNP'], n.env());
  t.is(r2.code, 0, r2.stderr);
  t.deepEqual(snapshotTree(n.host), mid);
  const r3 = await runInstaller(['uninstall', 'Metal-QEMU-SNP'], n.env());
  t.is(r3.code, 0, r3.stderr);
  t.deepEqual(snapshotTree(n.host), before);
});

test('uninstall with a newer manifest targets the handler of the receipt', async (t) => {
  const n = node(t);
  const m = shippedManifest(n) as Record<string, unknown>;
  n.writeManifest(m);
  const before = snapshotTree(n.host);
  const r1 = await runInstaller(['Metal-QEMU-SNP'], n.env());
  t.is(r1.code, 0, r1.stderr);
  const installed = r1.lines.find((l) => l['msg'] === 'runtime handler')?.['handler'];
  t.is(typeof installed, 'string');
  // The image was updated: another manifest, hence another derived handler name.
  n.writeManifest({ ...m, qemuExtraKernelParams: 'console=ttyS0 contrast.test=2' });
  const r2 = await runInstaller(['uninstall', 'Metal-QEMU-SNP'], n.env());
  t.is(r2.code, 0, r2.stderr);
  t.is(r2.lines.find((l) => l['msg'] === 'uninstalling runtime handler')?.['handler'], installed);
  t.deepEqual(snapshotTree(n.host), before);
});

test('nothing installed: uninstall says so and exits non-zero; nothing changes', async (t) => {
  const n = node(t);
  n.writeManifest(shippedManifest(n));
  const before = snapshotTree(n.dir);
  const r = await runInstaller(['uninstall', 'Metal-QEMU-SNP'], n.env());
  t.is(r.code, 1, r.stderr);
  const errors = errorsOf(r);
  t.is(errors.length, 1, r.stderr);
  t.is(errors[0]?.['code'], 'ERR_NOT_INSTALLED');
  t.regex(String(errors[0]?.['msg']), /nothing to uninstall: no install receipt/);
  t.deepEqual(snapshotTree(n.dir), before);
});

/**
 * Installs with `handler`, lets `edit` change the receipt on disk, and checks that uninstall then refuses
 * with ERR_RECEIPT, a message matching `msg`, and leaves the host tree as it was.
 */
async function uninstallRefusesReceipt(
  t: ExecutionContext,
  handler: string,
  edit: (receipt: { configEdits: Record<string, unknown>[] }) => void,
  msg: RegExp,
): Promise<void> {
  const n = node(t);
  n.writeManifest(shippedManifest(n, { handler }));
  const r1 = await runInstaller(['Metal-QEMU-SNP'], n.env());
  t.is(r1.code, 0, r1.stderr);
  const path = join(n.host, `opt/edgeless/.receipts/${handler}.json`);
  const receipt = JSON.parse(readFileSync(path, 'utf8')) as { configEdits: Record<string, unknown>[] };
  edit(receipt);
  writeFileSync(path, JSON.stringify(receipt));
  const before = snapshotTree(n.host);
  const r2 = await runInstaller(['uninstall', 'Metal-QEMU-SNP'], n.env());
  t.is(r2.code, 1, r2.stderr);
  t.is(errorsOf(r2)[0]?.['code'], 'ERR_RECEIPT');
  t.regex(String(errorsOf(r2)[0]?.['msg']), msg);
  t.deepEqual(snapshotTree(n.host), before);
}

test('a receipt with an edit this version cannot undo is refused before anything changes', async (t) => {
  await uninstallRefusesReceipt(
    t,
    'contrast-cc-metal-qemu-snp-rcpt0005',
    (receipt) => {
      receipt.configEdits.push({ kind: 'future-edit', path: '/etc/containerd/config.toml' });
    },
    /future-edit/,
  );
});

test('a receipt naming a snapshotter this version does not know is refused before anything changes', async (t) => {
  await uninstallRefusesReceipt(
    t,
    'contrast-cc-metal-qemu-snp-rcpt0006',
    (receipt) => {
      receipt.configEdits[0]!['snapshotter'] = 'overlay-of-the-future';
    },
    /snapshotter=overlay-of-the-future: expected one of tardev, nydus/,
  );
});

test('an install killed before its first receipt: the re-run records the directories it left; uninstall removes them', async (t) => {
  const n = node(t);
  const handler = 'contrast-cc-metal-qemu-snp-rcpt0007';
  n.writeManifest(shippedManifest(n, { handler }));
  const before = snapshotTree(n.host);
  // What a run killed between creating the receipt directory and renaming its receipt into place leaves.
  mkdirSync(join(n.host, 'opt/edgeless/.receipts'), { recursive: true });
  writeFileSync(join(n.host, `opt/edgeless/.receipts/.${handler}.json.tmp-0123456789ab`), '{"format":');
  const r1 = await runInstaller(['Metal-QEMU-SNP'], n.env());
  t.is(r1.code, 0, r1.stderr);
  const receipt = JSON.parse(readFileSync(join(n.host, `opt/edgeless/.receipts/${handler}.json`), 'utf8')) as {
    directories: string[];
  };
  for (const d of ['/opt', '/opt/edgeless', '/opt/edgeless/.receipts']) t.true(receipt.directories.includes(d), d);
  const r2 = await runInstaller(['uninstall', 'Metal-QEMU-SNP'], n.env());
  t.is(r2.code, 0, r2.stderr);
  t.deepEqual(snapshotTree(n.host), before);
});
