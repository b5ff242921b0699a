/** The meshproxy's renewal request: only for unknown-CA failures, only in renewal mode, throttled. */
import test from 'ava';
import { mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { createRenewalRequester, MIN_GAP_MS } from '../../meshproxy/renewal-request.js';

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

test('unknown-CA failures write the request file in renewal mode, at most once per gap; others never', async (t) => {
  const root = await mkdtemp(join(tmpdir(), `renewal-request-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const tlsDir = join(root, 'tls-config');
  const file = join(root, 'renewal-request');
  let now = 0;
  const r = createRenewalRequester({ file, tlsDir, log: silentLogger(), now: () => now });

  r.failed('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'peer:1');
  await settle();
  await t.throwsAsync(stat(file), { code: 'ENOENT' }, 'no renewal mode (no generation file): no request');

  await mkdir(tlsDir);
  await writeFile(join(tlsDir, 'generation'), '1\n');
  now += MIN_GAP_MS;
  for (const code of [undefined, 'ECONNREFUSED', 'CERT_HAS_EXPIRED', 'NO_CLIENT_CERTIFICATE']) r.failed(code, 'peer:2');
  await settle();
  await t.throwsAsync(stat(file), { code: 'ENOENT' }, 'other failures: no request');

  r.failed('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', '10.0.0.2:15006');
  await settle();
  t.is(await readFile(file, 'utf8'), 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY 10.0.0.2:15006\n');
  await unlink(file);
  r.failed('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', '10.0.0.3:15006');
  await settle();
  await t.throwsAsync(stat(file), { code: 'ENOENT' }, 'throttled within the gap');
  now += MIN_GAP_MS;
  r.failed('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'backend:443');
  await settle();
  t.is(await readFile(file, 'utf8'), 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA backend:443\n');
});
