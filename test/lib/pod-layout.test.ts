/**
 * The pod layout (lib/pod-layout.ts) is upstream's, and it is the only place the `/contrast` paths and
 * file names are spelled: the programs, the development tools and the image tooling take them from there.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FILES } from '../../initializer/outputs.js';
import { INITIALIZER_ENVIRONMENT } from '../../initializer/environment.js';
import { CERT_CHAIN_FILE, KEY_FILE, MESH_CA_FILE } from '../../meshproxy/certs.js';
import { MESHPROXY_ENVIRONMENT } from '../../meshproxy/environment.js';
import { SECRETS_MOUNT } from '../../images/k8s/pod-snippets.js';
import * as layout from '../../lib/pod-layout.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test("the layout is upstream's", (t) => {
  t.is(layout.CONTRAST_DIR, '/contrast');
  t.is(layout.DEFAULT_TLS_DIR, '/contrast/tls-config');
  t.is(layout.DEFAULT_SECRETS_DIR, '/contrast/secrets');
  t.deepEqual(
    { ...layout.TLS_FILES },
    { meshCA: 'mesh-ca.pem', certChain: 'certChain.pem', key: 'key.pem', rootCA: 'coordinator-root-ca.pem' },
  );
  t.is(layout.WORKLOAD_SECRET_SEED_FILE, 'workload-secret-seed');
  t.is(layout.defaultRenewalSignalFile(layout.DEFAULT_TLS_DIR), '/contrast/renewal-request');
});

test('the initializer writes, the meshproxy reads and the pod snippets mount the same layout', (t) => {
  t.is(FILES.certChain, CERT_CHAIN_FILE);
  t.is(FILES.key, KEY_FILE);
  t.is(FILES.meshCA, MESH_CA_FILE);
  t.is(SECRETS_MOUNT, layout.CONTRAST_DIR);
  const defaults = (table: readonly { name: string; default: string }[], name: string): string | undefined =>
    table.find((v) => v.name === name)?.default;
  for (const table of [INITIALIZER_ENVIRONMENT, MESHPROXY_ENVIRONMENT]) {
    t.is(defaults(table, 'CONTRAST_TLS_DIR'), layout.DEFAULT_TLS_DIR);
    t.is(defaults(table, layout.RENEWAL_SIGNAL_ENV), '/contrast/renewal-request');
  }
  t.is(defaults(INITIALIZER_ENVIRONMENT, 'CONTRAST_SECRETS_DIR'), layout.DEFAULT_SECRETS_DIR);
});

/** Source files (not tests), repository-relative. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name).slice(ROOT.length).replace(/^\//, ''));
}

test('no source file but lib/pod-layout.ts spells a /contrast path or a pod file name in code', (t) => {
  const literal =
    /(['"`])(\/contrast(\/[^'"`]*)?|mesh-ca\.pem|certChain\.pem|key\.pem|coordinator-root-ca\.pem|workload-secret-seed|renewal-request|tls-config|\.\.data)\1/;
  // The development Coordinator's own state directory also holds a mesh-ca.pem; that is not the pod's.
  const coordinatorState = new Set(['lib/coordinator/state.ts', 'dev/commands/coordinator.ts']);
  const bad: string[] = [];
  for (const file of [
    'lib',
    'initializer',
    'meshproxy',
    'runtime-installer',
    'dev',
    'images',
    'port-forwarder',
  ].flatMap(sources)) {
    if (file === 'lib/pod-layout.ts' || coordinatorState.has(file)) continue;
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.trimStart();
        if (code.startsWith('*') || code.startsWith('/*') || code.startsWith('//')) return;
        if (literal.test(line)) bad.push(`${file}:${i + 1}: ${code}`);
      });
  }
  t.deepEqual(bad, []);
});
