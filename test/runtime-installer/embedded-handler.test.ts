/**
 * The handler value the image build embeds: the installer takes the handler from it (checked against
 * the manifest's digest), a replaced manifest and a DaemonSet generated for another handler are refused
 * before anything on the host changes.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  deriveEmbeddedHandler,
  handlerForPlatform,
  serializeEmbeddedHandler,
} from '../../lib/node-install/embedded-handler.js';
import { createFakeNode, runInstaller, shippedManifest, snapshotTree } from './helpers/host.js';

test('the embedded value names the handler; a replaced manifest or another expected handler changes nothing', async (t) => {
  const n = createFakeNode();
  t.teardown(() => {
    n.cleanup();
  });
  mkdirSync(n.targetConfigDir);
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  const text = n.writeManifest({ ...(shippedManifest(n) as object), snapshotter: 'tardev' });
  const embedded = deriveEmbeddedHandler(Buffer.from(text), 'manifest');
  t.is(embedded.runtimeHash, createHash('sha256').update(text).digest('hex').slice(0, 8));
  t.is(embedded.snapshotter, 'tardev');
  const file = join(n.dir, 'runtime-handler.json');
  writeFileSync(file, serializeEmbeddedHandler(embedded));
  const handler = handlerForPlatform(embedded, 'AKS-CLH-SNP');

  const before = snapshotTree(n.host);
  const wrong = await runInstaller(
    ['AKS-CLH-SNP'],
    n.env({ CONTRAST_RUNTIME_HANDLER_FILE: file, CONTRAST_RUNTIME_HANDLER: 'contrast-cc-aks-clh-snp-00000000' }),
  );
  t.is(wrong.code, 1);
  t.is(wrong.lines.find((l) => l['level'] === 'ERROR')?.['code'], 'ERR_HANDLER_MISMATCH');
  t.deepEqual(snapshotTree(n.host), before);

  writeFileSync(file, serializeEmbeddedHandler({ ...embedded, manifestSha256: 'f'.repeat(64) }));
  const replaced = await runInstaller(['AKS-CLH-SNP'], n.env({ CONTRAST_RUNTIME_HANDLER_FILE: file }));
  t.is(replaced.code, 1);
  const err = replaced.lines.find((l) => l['level'] === 'ERROR');
  t.is(err?.['code'], 'ERR_MANIFEST');
  t.regex(JSON.stringify(err), /differs from the manifest the image was built with/);
  t.deepEqual(snapshotTree(n.host), before);

  writeFileSync(file, serializeEmbeddedHandler(embedded));
  const ok = await runInstaller(
    ['AKS-CLH-SNP'],
    n.env({ CONTRAST_RUNTIME_HANDLER_FILE: file, CONTRAST_RUNTIME_HANDLER: handler }),
  );
  t.is(ok.code, 0, ok.stderr);
  t.true(ok.lines.some((l) => l['msg'] === 'runtime handler' && l['handler'] === handler));
  t.regex(
    readFileSync(join(n.host, 'etc/containerd/config.toml'), 'utf8'),
    new RegExp(`snapshotter = "tardev-${handler}"`),
  );
});
