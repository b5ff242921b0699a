/**
 * Killing the installer (SIGKILL) at random points: the containerd config always parses and is
 * byte-for-byte the old or the new one, artifacts are absent or complete under their final names,
 * and a re-run converges to the same result as an uninterrupted run.
 */
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { createFakeNode, runInstaller, shippedManifest, SHIPPED, snapshotTree } from './helpers/host.js';

const ITERATIONS = 14;
const HANDLER = 'contrast-cc-metal-qemu-snp-k111111';

test('killed at random points, the installer leaves old-or-new state and a re-run converges', async (t) => {
  const n = createFakeNode();
  t.teardown(() => {
    n.cleanup();
  });
  // A larger artifact widens the window in which a kill lands mid-copy.
  writeFileSync(join(n.image, 'share/kata-containers.img'), Buffer.alloc(24 << 20, 7));
  n.writeManifest(shippedManifest(n, { integrity: true, handler: HANDLER }));
  mkdirSync(n.targetConfigDir);
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  const cfgPath = join(n.host, 'etc/containerd/config.toml');
  const original = readFileSync(cfgPath, 'utf8');
  const reset = () => {
    rmSync(join(n.host, 'opt'), { recursive: true, force: true });
    for (const f of readdirSync(join(n.host, 'etc/containerd'))) rmSync(join(n.host, 'etc/containerd', f));
    writeFileSync(cfgPath, original);
  };

  const started = Date.now();
  const reference = await runInstaller(['Metal-QEMU-SNP'], n.env());
  const fullMs = Date.now() - started;
  t.is(reference.code, 0, reference.stderr);
  // When, after spawning, the reference run replaced the config: half of the kills aim around it.
  const writeLine = reference.lines.find((l) => l['msg'] === 'containerd config updated');
  const writeMs = Date.parse(String(writeLine?.['time'])) - started;
  t.true(writeMs > 0 && writeMs <= fullMs);
  const installed = readFileSync(cfgPath, 'utf8');
  t.not(installed, original);
  const finalTree = snapshotTree(n.host);
  // The backup's name carries the time of the run; the receipt names it too (and must name the one there).
  const receiptFile = join(n.host, `opt/edgeless/.receipts/${HANDLER}.json`);
  const finalReceipt = readFileSync(receiptFile, 'utf8');
  const stripBackupName = (tree: Record<string, string>, receipt: string) =>
    JSON.stringify(
      Object.entries(tree).map(([k, v]) => [
        k.replace(/\.\d+\.bak$/, '.N.bak'),
        k.includes('/.receipts/') ? receipt.replace(/\.\d+\.bak/g, '.N.bak') : v,
      ]),
    );

  const outcomes = { old: 0, new: 0 };
  for (let i = 0; i < ITERATIONS; i++) {
    reset();
    const delay = Math.floor(i % 2 === 0 ? fullMs * (0.3 + 0.8 * Math.random()) : writeMs - 150 + 300 * Math.random());
    const killed = await runInstaller(['Metal-QEMU-SNP'], n.env(), delay);
    const text = readFileSync(cfgPath, 'utf8');
    t.notThrows(() => parse(text), `iteration ${i} (kill after ${delay} ms): config parses`);
    t.true(text === original || text === installed, `iteration ${i} (kill after ${delay} ms): config is old or new`);
    outcomes[text === original ? 'old' : 'new']++;
    const backups = readdirSync(join(n.host, 'etc/containerd')).filter((f) => f.endsWith('.bak'));
    t.true(backups.length <= 1);
    for (const b of backups) t.is(readFileSync(join(n.host, 'etc/containerd', b), 'utf8'), original);
    for (const [src, dst] of SHIPPED) {
      const dest = join(n.host, `opt/edgeless/${HANDLER}`, dst);
      if (existsSync(dest))
        t.true(readFileSync(dest).equals(readFileSync(join(n.image, src))), `iteration ${i}: ${dst} complete`);
    }
    const rerun = await runInstaller(['Metal-QEMU-SNP'], n.env());
    t.is(rerun.code, 0, `iteration ${i} (killed: ${killed.signal ?? `exit ${killed.code}`}): ${rerun.stderr}`);
    t.is(readFileSync(cfgPath, 'utf8'), installed);
    const receipt = readFileSync(receiptFile, 'utf8');
    t.is(
      stripBackupName(snapshotTree(n.host), receipt),
      stripBackupName(finalTree, finalReceipt),
      `iteration ${i}: converged, no temporaries left`,
    );
    const [backup] = readdirSync(join(n.host, 'etc/containerd')).filter((f) => f.endsWith('.bak'));
    t.true(
      receipt.includes(`"backup": "/etc/containerd/${backup ?? '?'}"`),
      `iteration ${i}: the receipt names the backup there`,
    );
  }
  t.log(
    `full run ${fullMs} ms, config written at ${writeMs} ms; config found old ${outcomes.old}×, new ${outcomes.new}×`,
  );
});
