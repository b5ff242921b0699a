/**
 * The runtime-installer image on upstream's artifacts, end to end with real parts: Debian's
 * docker-registry (the CNCF distribution registry) on loopback holds a stand-in "upstream
 * node-installer image" built here (artifacts under /opt/edgeless, an install manifest with file://
 * URLs and SRI), pushed with skopeo; `npm run images -- --installer-base docker://…@sha256:…` builds our
 * image on it; `npm run manifests -- --installer-image` writes the runtime YAML; the image, unpacked
 * with umoci, runs its DaemonSet command under runc against a host tree (systemd stand-in on a private
 * bus, nodes-API stand-in over TLS); a real containerd started on the written config lists the
 * RuntimeClass's handler.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';
import { parse as parseToml } from 'smol-toml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IRuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import { LayerContents, writeTar } from '../../images/tar.js';
import { sha256, writeImageLayout } from '../../images/oci.js';
import { getPath } from '../../runtime-installer/containerd-edit.js';
import { criRuntimes, criStatus, containerdConfigDump, startContainerd } from '../runtime-installer/helpers/cri.js';
import { startPrivateBus, SystemdStandIn } from '../runtime-installer/helpers/dbus.js';
import { createFakeNode, REPO } from '../runtime-installer/helpers/host.js';
import { startKubeApi } from '../runtime-installer/helpers/kube-api.js';
import { logLines, runBundle, unpackImage } from './installer-run.js';

const WORK = mkdtempSync(join(tmpdir(), `installer-image-${process.pid}-`));
test.after.always(() => {
  rmSync(WORK, { recursive: true, force: true });
});

/** Runs a repository script through tsx; resolves with exit code and output. */
function script(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, out });
    });
  });
}

interface Registry {
  readonly port: number;
  stop(): Promise<void>;
}

async function startRegistry(dir: string): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'config.yml');
  writeFileSync(
    cfg,
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:0\nlog:\n  level: info\n`,
  );
  const child = spawn('docker-registry', ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let log = '';
    const onData = (c: Buffer) => {
      log += c.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m !== null) resolve(Number(m[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`docker-registry exited with ${code}: ${log}`));
    });
  });
  return {
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** In-image artifact path (under /opt/edgeless) → host path under the runtime base, executable. */
const ARTIFACTS: readonly [string, string, boolean][] = [
  ['share/kata-containers.img', 'share/kata-containers.img', false],
  ['share/kata-kernel', 'share/kata-kernel', false],
  ['bin/qemu-system-x86_64', 'bin/qemu-system-x86_64', true],
  ['snp/share/OVMF.fd', 'snp/share/OVMF.fd', false],
  ['bin/containerd-shim-contrast-cc-v2', 'bin/containerd-shim-contrast-cc-v2', true],
];

interface StandIn {
  readonly layout: string;
  readonly manifestBytes: Buffer;
  readonly artifacts: Map<string, Buffer>;
}

/**
 * A stand-in for upstream's node-installer image: one layer of artifacts, one with the install manifest
 * (file:// URLs into the image, SRI) and upstream's own /bin/node-installer in a real /bin directory.
 */
async function buildStandInUpstream(dir: string, opts: { corrupt?: boolean } = {}): Promise<StandIn> {
  const artifacts = new Map<string, Buffer>();
  const a = new LayerContents();
  for (const [src] of ARTIFACTS) {
    const data = randomBytes(8192 + Math.floor(Math.random() * 8192));
    artifacts.set(src, data);
    a.add({ type: 'file', path: `opt/edgeless/${src}`, mode: src.startsWith('bin/') ? 0o755 : 0o644, data });
  }
  const manifest = {
    files: ARTIFACTS.map(([src, dst, executable], i) => ({
      url: `file:///opt/edgeless/${src}`,
      path: `/opt/edgeless/@@runtimeName@@/${dst}`,
      executable,
      integrity:
        i % 2 === 0
          ? `sha256-${createHash('sha256')
              .update(opts.corrupt === true && i === 0 ? Buffer.from('other') : (artifacts.get(src) ?? Buffer.alloc(0)))
              .digest('base64')}`
          : `sha512-${createHash('sha512')
              .update(artifacts.get(src) ?? Buffer.alloc(0))
              .digest('base64')}`,
    })),
    debugRuntime: false,
    qemuExtraKernelParams: 'console=ttyS0 contrast.stand-in=1',
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const b = new LayerContents();
  b.add({ type: 'file', path: 'config/contrast-node-install.json', mode: 0o644, data: manifestBytes });
  b.add({
    type: 'file',
    path: 'bin/node-installer',
    mode: 0o755,
    data: Buffer.from('#!/bin/false\nupstream Go binary stand-in\n'),
  });
  const blobs = [a, b].map((l, i) => {
    const tar = writeTar(l.sorted(), 0);
    return { gzip: gzipSync(tar), diffId: sha256(tar), createdBy: `stand-in upstream layer ${i}` };
  });
  const layout = join(dir, 'upstream');
  await writeImageLayout(layout, 'upstream', blobs, {
    entrypoint: ['/bin/node-installer'],
    cmd: [],
    env: { PATH: '/bin:/usr/bin', CONFIG_DIR: '/config', HOST_MOUNT: '/host' },
    labels: {},
    created: 0,
  });
  return { layout, manifestBytes, artifacts };
}

function pushAndDigest(layout: string, ref: string): string {
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:upstream`, `docker://${ref}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const inspect = JSON.parse(
    execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' }),
  ) as { Digest: string };
  return inspect.Digest;
}

async function bus(t: ExecutionContext) {
  const b = await startPrivateBus();
  t.teardown(() => b.stop());
  const standIn = await SystemdStandIn.start(b.address, {
    'containerd.service': { activeState: 'active', activeEnterTimestampUs: 1_000_000n, restartResult: 'done' },
  });
  t.teardown(() => {
    standIn.close();
  });
  return { socket: b.address.replace(/^unix:path=/, '').split(',')[0] ?? '', standIn };
}

let registry: Registry | undefined;
test.before(async () => {
  registry = await startRegistry(join(WORK, 'registry'));
});
test.after.always(async () => {
  await registry?.stop();
});

test.serial('a docker:// base without digest is refused before anything is built', async (t) => {
  const r = await script([
    'images/build.ts',
    '--installer-base',
    `docker://127.0.0.1:${registry!.port}/x/y:latest`,
    '--out',
    join(WORK, 'never'),
    'runtime-installer',
  ]);
  t.is(r.code, 1);
  t.regex(r.out, /ERR_INSTALLER_BASE|expected a digest/);
  t.false(existsSync(join(WORK, 'never')));
});

test.serial('a base whose manifest does not match its artifacts (SRI) is refused at build time', async (t) => {
  const up = await buildStandInUpstream(join(WORK, 'corrupt'), { corrupt: true });
  const digest = pushAndDigest(
    up.layout,
    `127.0.0.1:${registry!.port}/edgelesssys/contrast/node-installer-kata:corrupt`,
  );
  const r = await script([
    'images/build.ts',
    '--installer-base',
    `docker://127.0.0.1:${registry!.port}/edgelesssys/contrast/node-installer-kata@${digest}`,
    '--installer-base-insecure',
    '--no-bundle',
    '--out',
    join(WORK, 'never2'),
    'runtime-installer',
  ]);
  t.is(r.code, 1, r.out);
  t.regex(
    r.out,
    /files\[0\]\.url=file:\/\/\/opt\/edgeless\/share\/kata-containers\.img: content does not match integrity sha256-/,
  );
  t.false(existsSync(join(WORK, 'never2')));
});

test.serial(
  'built on a base from a registry by digest: one handler from image to RuntimeClass to containerd; label; uninstall',
  async (t) => {
    const port = registry!.port;
    const up = await buildStandInUpstream(join(WORK, 'good'));
    const repo = `127.0.0.1:${port}/edgelesssys/contrast/node-installer-kata`;
    const digest = pushAndDigest(up.layout, `${repo}:v1.2.3`);
    const baseRef = `docker://${repo}@${digest}`;

    // npm run images -- --installer-base REF
    const oci = join(WORK, 'oci');
    const built = await script([
      'images/build.ts',
      '--installer-base',
      baseRef,
      '--installer-base-insecure',
      '--bundle-dir',
      join(WORK, 'bundle'),
      '--out',
      oci,
      'runtime-installer',
    ]);
    t.is(built.code, 0, built.out);
    const layout = join(oci, 'runtime-installer');
    const hash = createHash('sha256').update(up.manifestBytes).digest('hex').slice(0, 8);
    const config = JSON.parse(
      execFileSync('skopeo', ['inspect', '--config', `oci:${layout}:runtime-installer`], { encoding: 'utf8' }),
    ) as { config: { Labels: Record<string, string>; Entrypoint: string[] } };
    t.is(config.config.Labels['org.opencontainers.image.base.digest'], digest);
    t.is(config.config.Labels['org.opencontainers.image.base.name'], baseRef);
    t.is(config.config.Labels['systems.edgeless.contrast.runtime-hash'], hash);
    t.deepEqual(config.config.Entrypoint, ['/bin/node-installer']);
    // The base's layers are kept, ours on top.
    const baseLayers = (
      JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', baseRef], { encoding: 'utf8' })) as {
        Layers: string[];
      }
    ).Layers;
    const ours = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci:${layout}:runtime-installer`], { encoding: 'utf8' }),
    ) as { Layers: string[]; Digest: string };
    t.deepEqual(ours.Layers.slice(0, baseLayers.length), baseLayers);
    t.is(ours.Layers.length, baseLayers.length + 2);

    // npm run manifests -- --installer-image LAYOUT
    const k8s = join(WORK, 'k8s');
    const gen = await script([
      'images/k8s/generate.ts',
      '--installer-image',
      layout,
      '--out',
      k8s,
      '--registry',
      `127.0.0.1:${port}/contrast-ts`,
    ]);
    t.is(gen.code, 0, gen.out);
    const yamlText = readFileSync(join(k8s, 'runtime-metal-qemu-snp.yaml'), 'utf8');
    t.true(yamlText.includes(digest), 'the base digest is in the YAML');
    const docs = parseAllDocuments(yamlText).map((d) => d.toJS() as { kind: string });
    const rc = docs.find((d) => d.kind === 'RuntimeClass') as IRuntimeClass;
    const ds = docs.find((d) => d.kind === 'DaemonSet') as IDaemonSet;
    const handler = rc.handler;
    t.is(handler, `contrast-cc-metal-qemu-snp-${hash}`);
    t.is(ds.metadata?.annotations?.['contrast.edgeless.systems/installer-base-digest'], digest);
    const installer = ds.spec!.template.spec!.initContainers![0]!;
    t.is(
      installer.image,
      `127.0.0.1:${port}/contrast-ts/runtime-installer:${(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version}@${ours.Digest}`,
    );
    const dsEnv = Object.fromEntries(
      (installer.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value ?? '']),
    );
    t.is(dsEnv['CONTRAST_RUNTIME_HANDLER'], handler);

    // The node: host tree, systemd stand-in, nodes API stand-in.
    const node = createFakeNode();
    t.teardown(() => {
      node.cleanup();
    });
    const original = readFileSync(join(node.host, 'etc/containerd/config.toml'), 'utf8');
    const { socket, standIn } = await bus(t);
    const api = await startKubeApi(join(WORK, 'kube'), { nodes: { 'node-e2e': {} }, token: 'e2e-token' });
    t.teardown(() => api.close());
    const bundle = unpackImage(t, layout, 'runtime-installer', join(WORK, 'run'));
    // The image's own files: the embedded handler and upstream's manifest, byte for byte.
    t.deepEqual(readFileSync(join(bundle, 'rootfs/config/contrast-node-install.json')), up.manifestBytes);
    t.is(
      (
        JSON.parse(readFileSync(join(bundle, 'rootfs/usr/share/misc/contrast/runtime-handler.json'), 'utf8')) as {
          runtimeHash: string;
        }
      ).runtimeHash,
      hash,
    );
    const run = (argv: readonly string[]) =>
      runBundle(t, bundle, {
        argv,
        env: {
          ...dsEnv,
          NODE_NAME: 'node-e2e',
          KUBERNETES_SERVICE_HOST: '127.0.0.1',
          KUBERNETES_SERVICE_PORT: String(api.port),
        },
        mounts: [
          { source: node.host, destination: '/host' },
          { source: socket, destination: '/var/run/dbus/system_bus_socket' },
          {
            source: api.serviceAccountDir,
            destination: '/var/run/secrets/kubernetes.io/serviceaccount',
            readonly: true,
          },
        ],
        stateDir: join(WORK, 'runc-state'),
      });

    const r = await run(installer.command!);
    t.is(r.status, 0, r.output);
    const lines = logLines(r.output);
    t.true(
      lines.some((l) => l['msg'] === 'runtime handler' && l['handler'] === handler),
      r.output,
    );
    t.true(lines.some((l) => l['msg'] === 'Installation completed successfully.'));
    for (const [src, dst] of ARTIFACTS)
      t.deepEqual(readFileSync(join(node.host, `opt/edgeless/${handler}/${dst}`)), up.artifacts.get(src), dst);
    t.deepEqual(standIn.restarts(), ['containerd.service']);
    // The label the RuntimeClass selects on.
    const labels = api.labels('node-e2e') ?? {};
    t.deepEqual(Object.entries(rc.scheduling?.nodeSelector ?? {}).filter(([k, v]) => labels[k] === v).length, 1);

    // A real containerd on the written config lists exactly the RuntimeClass's handler.
    const cfg = join(node.host, 'etc/containerd/config.toml');
    await containerdConfigDump(cfg);
    let log = '';
    const ctd = startContainerd(cfg, (c) => {
      log += c.toString();
    });
    t.teardown(() => ctd.stop());
    let runtimes: Record<string, Record<string, unknown>>;
    try {
      runtimes = criRuntimes(
        await criStatus(String(getPath(parseToml(readFileSync(cfg, 'utf8')), ['grpc', 'address']))),
      );
    } catch (err) {
      t.log(log.slice(-3000));
      throw err;
    } finally {
      await ctd.stop();
    }
    t.true(Object.keys(runtimes).includes(rc.handler), `containerd runtimes: ${Object.keys(runtimes).join(', ')}`);
    t.is(runtimes[rc.handler]?.['runtimePath'], `/opt/edgeless/${rc.handler}/bin/containerd-shim-contrast-cc-v2`);

    // A DaemonSet generated for another image: refused, nothing changed.
    const before = readFileSync(cfg, 'utf8');
    const other = await runBundle(t, bundle, {
      argv: installer.command!,
      env: { CONTRAST_RUNTIME_HANDLER: 'contrast-cc-metal-qemu-snp-00000000' },
      mounts: [{ source: node.host, destination: '/host' }],
      stateDir: join(WORK, 'runc-state'),
    });
    t.is(other.status, 1);
    t.is(logLines(other.output).find((l) => l['level'] === 'ERROR')?.['code'], 'ERR_HANDLER_MISMATCH', other.output);
    t.is(readFileSync(cfg, 'utf8'), before);

    // Uninstall through the image: label first, then the entry; the original config comes back.
    const u = await run(['/bin/node-installer', 'uninstall', 'Metal-QEMU-SNP']);
    t.is(u.status, 0, u.output);
    t.deepEqual(api.labels('node-e2e'), {});
    t.is(readFileSync(cfg, 'utf8'), original);
    t.false(existsSync(join(node.host, `opt/edgeless/${handler}`)));
  },
);

test.serial(
  'without --installer-base: the YAML says the image carries no artifacts; its installer says how to build one that does',
  async (t) => {
    const oci = join(WORK, 'oci-plain');
    const built = await script([
      'images/build.ts',
      '--bundle-dir',
      join(WORK, 'bundle-plain'),
      '--out',
      oci,
      'runtime-installer',
    ]);
    t.is(built.code, 0, built.out);
    t.regex(built.out, /carries no Kata artifacts/);
    const layout = join(oci, 'runtime-installer');
    const k8s = join(WORK, 'k8s-plain');
    const gen = await script(['images/k8s/generate.ts', '--installer-image', layout, '--out', k8s]);
    t.is(gen.code, 0, gen.out);
    t.regex(
      readFileSync(join(k8s, 'runtime-metal-qemu-tdx.yaml'), 'utf8'),
      /^# NOTE: the runtime-installer image named below carries no Kata artifacts/m,
    );
    const node = createFakeNode();
    t.teardown(() => {
      node.cleanup();
    });
    const bundle = unpackImage(t, layout, 'runtime-installer', join(WORK, 'run-plain'));
    const r = await runBundle(t, bundle, {
      argv: ['/bin/node-installer', 'Metal-QEMU-TDX'],
      env: {},
      mounts: [{ source: node.host, destination: '/host' }],
      stateDir: join(WORK, 'runc-state'),
    });
    t.is(r.status, 1, r.output);
    const err = logLines(r.output).find((l) => l['level'] === 'ERROR');
    t.is(err?.['code'], 'ERR_MANIFEST');
    t.regex(
      JSON.stringify(err),
      /carries no Kata artifacts[^"]*--installer-base docker:\/\/ghcr\.io\/edgelesssys\/contrast\/node-installer-kata@sha256:/,
    );
  },
);
