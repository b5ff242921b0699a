/** A broken installation (the addon missing) is fatal at once: one ERROR line, exit 1, nothing written. */
import test from 'ava';
import { createServer, type Socket } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLogLines } from './helpers/logs.js';
import { spawnFixture } from './helpers/spawn.js';

const MAIN = fileURLToPath(new URL('../../initializer/main.ts', import.meta.url));

test('the initializer does not retry when the native addon is missing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), `init-noaddon-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  // Something that accepts TCP, so that the attempt gets as far as starting the aTLS client.
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s.on('close', () => sockets.delete(s))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');

  const p = spawnFixture(
    {
      COORDINATOR_HOST: `127.0.0.1:${address.port}`,
      CONTRAST_ATTESTATION: 'insecure',
      CONTRAST_ALLOW_INSECURE_ATTESTATION: '1',
      CONTRAST_INSECURE_HOST_DATA: 'ab'.repeat(32),
      CONTRAST_TLS_DIR: join(root, 'tls-config'),
      CONTRAST_SECRETS_DIR: join(root, 'secrets'),
      CONTRAST_DONE_FILE: join(root, 'done'),
      CONTRAST_RETRY_INTERVAL: '100ms',
      CONTRAST_NATIVE_ADDON: join(root, 'missing', 'contrast_native.node'),
    },
    [],
    MAIN,
  );
  const { code } = await p.exited;
  t.is(code, 1, p.stderr());
  const lines = parseLogLines(p.stderr());
  t.deepEqual(
    lines.filter((l) => l['msg'] === 'Requesting cert'),
    [],
    'no retry WARN lines',
  );
  const errors = lines.filter((l) => l['level'] === 'ERROR');
  t.is(errors.length, 1);
  t.is(errors[0]!['code'], 'ERR_MESHAPI_LOCAL_SETUP');
  t.regex(String(errors[0]!['msg']), /native addon contrast_native\.node not found/);
  t.false((await readdir(root)).includes('done'));
  t.false((await readdir(root)).includes('tls-config') && (await readdir(join(root, 'tls-config'))).length > 0);
});
