import test from 'ava';
import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import {
  addRuntime,
  removeRuntime,
  canonical,
  editTemplate,
  getPath,
  CRI_V2,
  CRI_V3,
  type RuntimeEntry,
} from '../../runtime-installer/containerd-edit.js';
import { scanHeaders } from '../../runtime-installer/toml-scan.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/runtime-installer/${name}`, import.meta.url), 'utf8');

const entry: RuntimeEntry = {
  handler: 'contrast-cc-metal-qemu-snp-1a2b3c4d',
  runtimeType: 'io.containerd.contrast-cc.v2',
  runtimePath: '/opt/edgeless/contrast-cc-metal-qemu-snp-1a2b3c4d/bin/containerd-shim-contrast-cc-v2',
  podAnnotations: ['io.katacontainers.*'],
  privilegedWithoutHostDevices: true,
  configPath: '/opt/edgeless/contrast-cc-metal-qemu-snp-1a2b3c4d/etc/configuration-qemu-snp.toml',
};

/** Lines of `after` that are not in `before`, in order (a multiset line diff). */
function addedLines(before: string, after: string): string[] {
  const pool = new Map<string, number>();
  for (const l of before.split('\n')) pool.set(l, (pool.get(l) ?? 0) + 1);
  const added: string[] = [];
  for (const l of after.split('\n')) {
    const n = pool.get(l) ?? 0;
    if (n > 0) pool.set(l, n - 1);
    else added.push(l);
  }
  return added;
}

for (const [name, cri] of [
  ['containerd-v2.toml', CRI_V2],
  ['containerd-v3.toml', CRI_V3],
  ['k3s-rendered.toml', CRI_V2],
] as const) {
  test(`add to ${name}: only our tables are added, everything else byte for byte`, (t) => {
    const before = fixture(name);
    const after = addRuntime(before, entry, name);
    t.not(after, before);
    // Every original line survives, in order.
    let pos = 0;
    for (const line of before.split('\n')) {
      const at = after.indexOf(line, pos);
      t.true(at >= 0, `line kept: ${line}`);
      pos = at + line.length;
    }
    const added = addedLines(before, after).filter((l) => l.trim() !== '');
    t.deepEqual(
      added.map((l) => l.trim().split(' ')[0]),
      [
        `[plugins."${cri}".containerd.runtimes.${entry.handler}]`,
        'runtime_type',
        'runtime_path',
        'pod_annotations',
        'privileged_without_host_devices',
        `[plugins."${cri}".containerd.runtimes.${entry.handler}.options]`,
        'ConfigPath',
      ],
    );
    const parsed = parse(after);
    t.deepEqual(canonical(getPath(parsed, ['plugins', cri, 'containerd', 'runtimes', entry.handler])), {
      runtime_type: entry.runtimeType,
      runtime_path: entry.runtimePath,
      pod_annotations: ['io.katacontainers.*'],
      privileged_without_host_devices: true,
      options: { ConfigPath: entry.configPath },
    });
    t.is(addRuntime(after, entry, name), after, 'second edit is a no-op');
    t.is(removeRuntime(after, entry.handler, name), before, 'remove restores the original bytes');
    t.is(removeRuntime(before, entry.handler, name), before, 'remove when absent is a no-op');
  });
}

test('replacing a changed entry rewrites only that entry', (t) => {
  const v1 = addRuntime(fixture('containerd-v2.toml'), entry, 'v2');
  const v2 = addRuntime(v1, { ...entry, podAnnotations: ['io.katacontainers.*', 'cdi.k8s.io/*'] }, 'v2');
  t.deepEqual(
    addedLines(v1, v2).map((l) => l.trim()),
    ['pod_annotations = ["io.katacontainers.*", "cdi.k8s.io/*"]'],
  );
  t.is(v2.split(`runtimes.${entry.handler}]`).length, 2, 'one table, not two');
});

test('debug level is set in place, or a [debug] table is appended', (t) => {
  const v2 = addRuntime(fixture('containerd-v2.toml'), entry, 'v2', { debugLevel: true });
  t.is(getPath(parse(v2), ['debug', 'level']), 'debug');
  t.deepEqual(
    addedLines(fixture('containerd-v2.toml'), v2).filter((l) => l.includes('level')),
    ['  level = "debug"'],
  );
  const v3 = addRuntime(fixture('containerd-v3.toml'), entry, 'v3', { debugLevel: true });
  t.is(getPath(parse(v3), ['debug', 'level']), 'debug');
  t.is(addRuntime(v3, entry, 'v3', { debugLevel: true }), v3);
});

test('a minimal config without plugins gets the entry appended', (t) => {
  const after = addRuntime('version = 2\n', entry, 'min');
  t.true(after.startsWith('version = 2\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.'));
  t.is(removeRuntime(after, entry.handler, 'min'), 'version = 2\n');
  const noNewline = addRuntime('version = 3', entry, 'min');
  t.truthy(getPath(parse(noNewline), ['plugins', CRI_V3, 'containerd', 'runtimes', entry.handler]));
});

const refusals: [string, string, string][] = [
  ['invalid TOML', 'version = 2\n[plugins\n', 'ERR_CONTAINERD_CONFIG'],
  ['unknown version', 'version = 5\n', 'ERR_CONTAINERD_CONFIG'],
  [
    'entry defined inline elsewhere',
    `version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\nruntimes = { ${entry.handler} = { runtime_type = "x" } }\n`,
    'ERR_CONTAINERD_CONFIG',
  ],
  [
    'runtimes as an inline table',
    'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\nruntimes = { runc = { runtime_type = "io.containerd.runc.v2" } }\n',
    'ERR_CONTAINERD_CONFIG',
  ],
];
for (const [name, text, code] of refusals) {
  test(`refuses: ${name}`, (t) => {
    t.is(t.throws(() => addRuntime(text, entry, 'in')).constructor.name, 'ContainerdConfigError');
    t.is((t.throws(() => addRuntime(text, entry, 'in')) as { code?: string }).code, code);
  });
}

test('scanner ignores brackets inside strings, arrays and comments', (t) => {
  const headers = scanHeaders(fixture('containerd-v2.toml')).map((h) => h.path.join('|'));
  t.false(headers.some((h) => h.endsWith('fake')));
  t.true(headers.includes('x-site-notes'));
  t.true(headers.includes(`plugins|${CRI_V2}|containerd|runtimes|runc|options`));
});

test('k3s template with Go directives: directive lines kept, our tables added after, removal restores', (t) => {
  const template =
    '{{ template "base" . }}\n\n# site runtime\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.custom]\n  runtime_type = "io.containerd.runc.v2"\n';
  const rendered = fixture('k3s-rendered.toml');
  const add = (text: string, source: string, criId: string) => addRuntime(text, entry, source, { criId });
  const out = editTemplate(template, rendered, 'tmpl', 'rendered', add);
  t.true(out.startsWith(template));
  t.deepEqual(
    addedLines(template, out)
      .filter((l) => l.trim() !== '')
      .map((l) => l.trim().split(' ')[0]),
    [
      `[plugins."${CRI_V2}".containerd.runtimes.${entry.handler}]`,
      'runtime_type',
      'runtime_path',
      'pod_annotations',
      'privileged_without_host_devices',
      `[plugins."${CRI_V2}".containerd.runtimes.${entry.handler}.options]`,
      'ConfigPath',
    ],
  );
  t.is(editTemplate(out, rendered, 'tmpl', 'rendered', add), out);
  t.is(
    editTemplate(out, rendered, 'tmpl', 'rendered', (text, source, criId) =>
      removeRuntime(text, entry.handler, source, criId),
    ),
    template,
  );
  // The CRI plugin ID follows the rendered config's version.
  const v3 = editTemplate('{{ template "base" . }}\n', 'version = 3\n', 'tmpl', 'rendered', add);
  t.true(v3.includes(`[plugins."${CRI_V3}".containerd.runtimes.${entry.handler}]`));
  const err = t.throws(() => editTemplate('x = "{{ .NodeName }}"\n', rendered, 'tmpl', 'rendered', add));
  t.is((err as { code?: string }).code, 'ERR_CONTAINERD_CONFIG');
});
