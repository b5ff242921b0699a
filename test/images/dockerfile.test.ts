/**
 * The Dockerfile cannot be built here (no Docker engine); this keeps it consistent with
 * images/targets.ts, which images/build.ts uses: one FROM-scratch stage per target with the same
 * entry point and environment, and a build stage that runs the same bundler and assembler.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TARGETS } from '../../images/targets.js';

const DOCKERFILE = readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8');

interface Stage {
  from: string;
  name: string;
  lines: string[];
}

function stages(text: string): Stage[] {
  const out: Stage[] = [];
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of logical) {
    const from = /^FROM\s+(\S+)\s+AS\s+(\S+)$/i.exec(line);
    if (from !== null) out.push({ from: from[1]!, name: from[2]!, lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

test('one runtime stage per image target, with the entry point and environment of images/targets.ts', (t) => {
  const all = stages(DOCKERFILE);
  t.deepEqual(
    all.map((s) => s.name),
    ['artifacts', 'build', 'installer-build', ...TARGETS.map((x) => x.name)],
  );
  for (const target of TARGETS) {
    const stage = all.find((s) => s.name === target.name)!;
    const installer = target.name === 'runtime-installer';
    // The runtime installer keeps the layers of upstream's node-installer image; the others are FROM scratch.
    t.is(stage.from, installer ? 'artifacts' : 'scratch', target.name);
    t.true(
      stage.lines.includes(`COPY --from=${installer ? 'installer-build' : 'build'} /rootfs/${target.name}/ /`),
      target.name,
    );
    const entry = stage.lines.find((l) => l.startsWith('ENTRYPOINT'));
    t.deepEqual(JSON.parse(entry!.slice('ENTRYPOINT'.length)), [`/bin/${target.launchers[0]!}`], target.name);
    const env = Object.fromEntries(
      stage.lines
        .filter((l) => l.startsWith('ENV '))
        .map((l) => {
          const [k, ...v] = l.slice(4).split('=');
          return [k!, v.join('=')];
        }),
    );
    t.deepEqual(env, { ...target.env }, target.name);
  }
});

test('the build stage runs the same bundler and assembler, and unpacks every target', (t) => {
  const build = stages(DOCKERFILE).find((s) => s.name === 'build')!;
  const text = build.lines.join('\n');
  t.regex(text, /npm ci/);
  t.regex(text, /npm run build /);
  t.regex(text, /npm run bundle -- --require-all/);
  t.regex(text, /npm run images -- --no-bundle --require-all/);
  for (const target of TARGETS) t.true(text.includes(`"${target.name}"`), target.name);
  // Every host tool a target copies comes from a Debian package the stage installs.
  const packages: Record<string, string> = {
    '/usr/sbin/xtables-legacy-multi': 'iptables',
    '/usr/sbin/xtables-nft-multi': 'iptables',
    '/usr/sbin/cryptsetup': 'cryptsetup-bin',
    '/usr/sbin/mke2fs': 'e2fsprogs',
    '/usr/bin/mount': 'mount',
    '/usr/bin/umount': 'mount',
    '/usr/bin/busybox': 'busybox-static',
    '/usr/bin/bash': 'bash',
    '/usr/bin/socat': 'socat',
  };
  for (const tool of TARGETS.flatMap((x) => x.tools)) {
    t.truthy(packages[tool], `no package known for ${tool}`);
    t.regex(text, new RegExp(`\\b${packages[tool]!}\\b`), tool);
  }
  t.regex(text, /\bbinutils\b/, 'strip');
  // Our own executables (images/own-binaries.ts) are built by make and cc in the build stage.
  if (TARGETS.some((x) => Object.keys(x.ownBinaries).length > 0)) t.regex(text, /\bbuild-essential\b/, 'make, cc');
});

test("the artifacts stage is upstream's node-installer image given by digest; the handler comes from its manifest", (t) => {
  const all = stages(DOCKERFILE);
  t.is(all[0]!.from, '${INSTALLER_BASE}');
  t.regex(DOCKERFILE, /^ARG INSTALLER_BASE$/m);
  const ib = all.find((s) => s.name === 'installer-build')!;
  t.is(ib.from, 'build');
  const text = ib.lines.join('\n');
  t.true(
    text.includes(
      'COPY --from=artifacts /config/contrast-node-install.json /installer-base/contrast-node-install.json',
    ),
  );
  t.regex(
    text,
    /npm run images -- --no-bundle\s+--installer-manifest \/installer-base\/contrast-node-install\.json --installer-base-name "\$\{INSTALLER_BASE\}" runtime-installer/,
  );
  t.true(
    all
      .find((s) => s.name === 'runtime-installer')!
      .lines.includes('LABEL org.opencontainers.image.base.name="${INSTALLER_BASE}"'),
  );
});

test('the build context leaves out what git ignores (node_modules, dist, build output) and .git', (t) => {
  const lines = (path: string): string[] =>
    readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
  const dockerignore = lines('../../.dockerignore');
  for (const entry of lines('../../.gitignore')) t.true(dockerignore.includes(entry), `.dockerignore lacks ${entry}`);
  for (const entry of ['.git/', 'node_modules/', 'dist/']) t.true(dockerignore.includes(entry), entry);
  // `COPY . .` comes after `npm ci`: without the ignore file it would copy a local node_modules over it.
  t.regex(DOCKERFILE, /RUN npm ci\nCOPY \. \./);
});
