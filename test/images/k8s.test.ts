import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IRuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPod } from 'kubernetes-models/v1/Pod';
import {
  allManifests,
  DEFAULT_MANIFEST_OPTIONS,
  fileComment,
  type ManifestOptions,
} from '../../images/k8s/manifests.js';
import type { KubeObject } from '../../images/k8s/kube-object.js';
import { renderFile } from '../../images/k8s/render.js';
import { validateObject } from '../../images/k8s/validate.js';
import { injectContrast, meshproxyContainer, workloadSecretId } from '../../images/k8s/pod-snippets.js';
import { UPSTREAM_COMMANDS } from '../../images/upstream-commands.js';
import { PLATFORMS, runtimeHandler } from '../../images/k8s/platforms.js';
import { installerDaemonSet, runtimeClass, runtimeObjects } from '../../images/k8s/runtime.js';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { targetByName } from '../../images/targets.js';
import { VERSION } from '../../lib/version.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const GENERATED = join(ROOT, 'images/k8s/generated');
const OPTS: ManifestOptions = { ...DEFAULT_MANIFEST_OPTIONS, version: VERSION };
const RUNTIME = {
  runtimeHash: '1a2b3c4d',
  installerImage: 'img/installer:1',
  namespace: 'kube-system',
  pauseImage: 'registry.k8s.io/pause:3.6',
};
const INJECT = { initializerImage: 'img/init:1', meshproxyImage: 'img/mesh:1', coordinatorHost: 'coordinator' };

test('every manifest validates against the Kubernetes API schemas', (t) => {
  let count = 0;
  for (const [file, objects] of allManifests(OPTS)) {
    for (const obj of objects) {
      t.notThrows(
        () => {
          validateObject(obj);
        },
        `${file}: ${obj.kind}/${obj.metadata?.name ?? ''}`,
      );
      count++;
    }
  }
  t.true(count >= 14);
});

test('the files in images/k8s/generated are what the generator writes, and parse back to the objects', (t) => {
  const files = allManifests(OPTS);
  t.deepEqual(readdirSync(GENERATED).sort(), [...files.keys()].sort());
  for (const [file, objects] of files) {
    const text = readFileSync(join(GENERATED, file), 'utf8');
    t.is(text, renderFile(objects, fileComment(file, OPTS)), `${file} is stale: run npm run manifests`);
    const docs = parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
    t.deepEqual(docs, JSON.parse(JSON.stringify(objects)) as KubeObject[], file);
    // What kubectl would read from the file validates as well.
    for (const doc of docs)
      t.notThrows(() => {
        validateObject(doc);
      });
  }
});

const invalid: [string, KubeObject][] = [
  ['RuntimeClass without handler', { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'x' } }],
  [
    'container with an unknown pull policy',
    {
      ...installerDaemonSet('Metal-QEMU-SNP', RUNTIME),
      spec: {
        selector: {},
        template: { spec: { containers: [{ name: 'c', image: 'i', imagePullPolicy: 'Sometimes' }] } },
      },
    } as KubeObject,
  ],
  [
    'DaemonSet without selector',
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'x' }, spec: { template: {} } } as KubeObject,
  ],
  [
    'probe period as a string',
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', startupProbe: { exec: { command: ['true'] }, periodSeconds: '5' } }] },
    } as KubeObject,
  ],
  ['a kind without schema here', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }],
];
for (const [name, obj] of invalid) {
  test(`the validator rejects: ${name}`, (t) => {
    const err = t.throws(() => {
      validateObject(obj);
    });
    t.is((err as { code?: string }).code, 'ERR_MANIFEST_INVALID');
    t.regex(err.message, new RegExp(`^${obj.kind}/`));
  });
}

test('RuntimeClass: versioned handler name and pod overhead per platform', (t) => {
  const expected: Record<string, string> = {
    'Metal-QEMU-SNP': '682Mi',
    'Metal-QEMU-TDX': '682Mi',
    'Metal-QEMU-SNP-GPU': '1194Mi',
    'Metal-QEMU-TDX-GPU': '1194Mi',
  };
  for (const p of PLATFORMS) {
    const rc: IRuntimeClass = runtimeClass(p, RUNTIME);
    t.is(rc.handler, `contrast-cc-${p.toLowerCase()}-1a2b3c4d`);
    t.is(rc.metadata?.name, rc.handler);
    t.is(rc.overhead?.podFixed?.['memory'], expected[p]);
  }
  t.throws(() => runtimeHandler('Metal-QEMU-SNP', 'XYZ'), { instanceOf: RangeError });
});

test('DaemonSet: installer init container with the image entry point, privileges, host mounts; pause keeps it running', (t) => {
  const ds: IDaemonSet = installerDaemonSet('Metal-QEMU-TDX', RUNTIME);
  t.is(ds.metadata?.name, 'contrast-cc-metal-qemu-tdx-1a2b3c4d-nodeinstaller');
  const pod = ds.spec!.template.spec!;
  t.true(pod.hostPID);
  const installer = pod.initContainers![0]!;
  t.deepEqual(installer.command, ['/bin/node-installer', 'Metal-QEMU-TDX']);
  t.true(
    targetByName('runtime-installer')!.launchers.includes('node-installer'),
    'the image provides /bin/node-installer',
  );
  t.true(installer.securityContext?.privileged);
  t.deepEqual(
    installer.volumeMounts?.map((m) => m.mountPath),
    ['/host', '/var/run/dbus/system_bus_socket', '/target-config', '/imagepuller-config'],
  );
  t.deepEqual(
    pod.containers.map((c) => c.name),
    ['pause'],
  );
  const volumes = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));
  t.deepEqual(volumes['host-mount']?.hostPath, { path: '/', type: 'Directory' });
  t.is(volumes['var-run-dbus-socket']?.hostPath?.type, 'Socket');
  t.true(volumes['target-config']?.configMap?.optional);
  t.true(volumes['imagepuller-config']?.secret?.optional);
});

test('target-config presets for k3s and rke2 point at the containerd template and the distribution units', (t) => {
  const files = allManifests(OPTS);
  const k3s = files.get('node-installer-target-config-k3s.yaml')![0] as unknown as {
    data: Record<string, string>;
    metadata: { name: string; namespace: string };
  };
  t.is(k3s.metadata.name, 'contrast-node-installer-target-config');
  t.is(k3s.metadata.namespace, 'kube-system');
  t.deepEqual(k3s.data, {
    'containerd-config-path': 'var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl',
    'systemd-unit-name': 'k3s.service,k3s-agent.service',
  });
  const rke2 = files.get('node-installer-target-config-rke2.yaml')![0] as unknown as { data: Record<string, string> };
  t.is(rke2.data['systemd-unit-name'], 'rke2-server.service,rke2-agent.service');
});

const APP: IPodSpec = {
  runtimeClassName: 'contrast-cc',
  containers: [{ name: 'app', image: 'app:1' }],
  initContainers: [{ name: 'user-init', image: 'u:1' }],
};

test('injection with mesh annotations: initializer first, user init containers kept, sidecar last', (t) => {
  const spec = injectContrast(APP, { 'contrast.edgeless.systems/servicemesh-ingress': '' }, INJECT);
  t.deepEqual(
    spec.initContainers!.map((c) => c.name),
    ['contrast-initializer', 'user-init', 'contrast-service-mesh'],
  );
  const init = spec.initContainers![0]!;
  t.deepEqual(init.env, [{ name: 'COORDINATOR_HOST', value: 'coordinator' }]);
  t.deepEqual(init.volumeMounts, [{ name: 'contrast-secrets', mountPath: '/contrast' }]);
  const mesh = spec.initContainers![2]!;
  t.is(mesh.restartPolicy, 'Always');
  t.deepEqual(mesh.securityContext?.capabilities?.add, ['NET_ADMIN']);
  t.deepEqual(mesh.startupProbe?.exec?.command, ['test', '-f', '/ready']);
  t.is(
    targetByName('meshproxy')!.links['/usr/bin/test'],
    'busybox',
    "the image carries the probe's test (busybox applet)",
  );
  t.deepEqual(mesh.env, [], 'an empty ingress annotation sets no variable');
  t.deepEqual(spec.volumes, [{ name: 'contrast-secrets', emptyDir: { medium: 'Memory' } }]);
  t.deepEqual(spec.containers[0]!.volumeMounts, [{ name: 'contrast-secrets', mountPath: '/contrast' }]);
  t.is(APP.initContainers!.length, 1, 'the input is not modified');
});

test('injection without mesh annotations: no sidecar, the initializer removes the deny rule', (t) => {
  const spec = injectContrast(APP, {}, INJECT);
  t.deepEqual(
    spec.initContainers!.map((c) => c.name),
    ['contrast-initializer', 'user-init'],
  );
  t.deepEqual(spec.initContainers![0]!.env, [
    { name: 'COORDINATOR_HOST', value: 'coordinator' },
    { name: 'CONTRAST_SERVICE_MESH_DISABLED', value: 'true' },
  ]);
});

test('injection is idempotent and reuses an existing contrast-secrets emptyDir; another volume type is refused', (t) => {
  const ann = { 'contrast.edgeless.systems/servicemesh-egress': 'b#127.0.0.2:80#b:80' };
  const once = injectContrast(APP, ann, INJECT);
  const twice = injectContrast(once, ann, INJECT);
  t.deepEqual(twice, once);
  t.throws(
    () => injectContrast({ ...APP, volumes: [{ name: 'contrast-secrets', configMap: { name: 'x' } }] }, ann, INJECT),
    { message: 'volume contrast-secrets has to be of type EmptyDir' },
  );
});

test('annotations pass through as environment, the admin port also as a named port', (t) => {
  const c = meshproxyContainer('m', {
    'contrast.edgeless.systems/servicemesh-ingress': 'DISABLED',
    'contrast.edgeless.systems/servicemesh-egress': 'x#127.0.0.1:80#svc:80',
    'contrast.edgeless.systems/servicemesh-admin-interface-port': '9901',
    'other.example/annotation': 'ignored',
  });
  t.deepEqual(c.env, [
    { name: 'CONTRAST_INGRESS_PROXY_CONFIG', value: 'DISABLED' },
    { name: 'CONTRAST_EGRESS_PROXY_CONFIG', value: 'x#127.0.0.1:80#svc:80' },
    { name: 'CONTRAST_ADMIN_PORT', value: '9901' },
  ]);
  t.deepEqual(c.ports, [{ name: 'contrast-admin', containerPort: 9901 }]);
  t.deepEqual(c.args, ['-l', 'debug']);
  t.throws(() => meshproxyContainer('m', { 'contrast.edgeless.systems/servicemesh-admin-interface-port': 'abc' }), {
    message: /parsing service mesh admin interface port/,
  });
});

test('secure-pv annotation: privileged native-sidecar initializer with the device, /state and the /done probe (as upstream)', (t) => {
  const ann = { 'contrast.edgeless.systems/secure-pv': 'state:share' };
  const app: IPodSpec = { ...APP, volumes: [{ name: 'state', persistentVolumeClaim: { claimName: 'data' } }] };
  const spec = injectContrast(app, ann, INJECT);
  const init = spec.initContainers![0]!;
  t.is(init.name, 'contrast-initializer');
  t.deepEqual(init.env, [
    { name: 'COORDINATOR_HOST', value: 'coordinator' },
    { name: 'CONTRAST_SERVICE_MESH_DISABLED', value: 'true' },
    { name: 'CRYPTSETUP_DEVICE', value: '/dev/csi0' },
  ]);
  t.deepEqual(init.volumeDevices, [{ name: 'state', devicePath: '/dev/csi0' }]);
  t.deepEqual(init.volumeMounts, [
    { name: 'contrast-secrets', mountPath: '/contrast' },
    { name: 'share', mountPath: '/state', mountPropagation: 'Bidirectional' },
  ]);
  t.deepEqual(init.securityContext, { privileged: true });
  t.deepEqual(init.resources, { requests: { memory: '100Mi' }, limits: { memory: '100Mi' } });
  t.deepEqual(init.startupProbe, {
    failureThreshold: 20,
    periodSeconds: 5,
    exec: { command: ['/bin/test', '-f', '/done'] },
  });
  t.is(init.restartPolicy, 'Always');
  t.deepEqual(spec.volumes, [
    { name: 'state', persistentVolumeClaim: { claimName: 'data' } },
    { name: 'share', emptyDir: { medium: 'Memory' } },
    { name: 'contrast-secrets', emptyDir: { medium: 'Memory' } },
  ]);
  t.deepEqual(injectContrast(spec, ann, INJECT), spec, 'idempotent');
  t.notThrows(() => {
    validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: ann }, spec } as KubeObject);
  });
  // A StatefulSet's claim template may be the device; an existing emptyDir is reused.
  const sts = injectContrast({ ...APP, volumes: [{ name: 'share', emptyDir: {} }] }, ann, {
    ...INJECT,
    volumeClaimTemplates: ['state'],
  });
  t.deepEqual(
    sts.volumes?.map((v) => v.name),
    ['share', 'contrast-secrets'],
  );
});

test('secure-pv annotation errors: format, missing device, device not a PVC, mount volume not an emptyDir', (t) => {
  const pvc = { name: 'state', persistentVolumeClaim: { claimName: 'data' } };
  const cases: [string, IPodSpec, RegExp][] = [
    ['state', { ...APP, volumes: [pvc] }, /has to be in the format 'device-name:mount-name'/],
    ['nope:share', { ...APP, volumes: [pvc] }, /device "nope" not found/],
    [
      'cfg:share',
      { ...APP, volumes: [{ name: 'cfg', configMap: { name: 'x' } }] },
      /volume "cfg" must reference a PVC or iSCSI device/,
    ],
    [
      'state:cfg',
      { ...APP, volumes: [pvc, { name: 'cfg', configMap: { name: 'x' } }] },
      /volume cfg has to be of type EmptyDir/,
    ],
  ];
  for (const [value, app, expected] of cases) {
    t.throws(
      () => injectContrast(app, { 'contrast.edgeless.systems/secure-pv': value }, INJECT),
      { message: expected },
      value,
    );
  }
});

test('RuntimeClass selects the node label its installer sets; the DaemonSet names the same handler and runs as its service account', (t) => {
  for (const p of PLATFORMS) {
    const [rc, sa, role, binding, policy, policyBinding, ds] = runtimeObjects(p, RUNTIME) as [
      IRuntimeClass,
      IServiceAccount,
      IClusterRole,
      IClusterRoleBinding,
      IValidatingAdmissionPolicy,
      IValidatingAdmissionPolicyBinding,
      IDaemonSet,
    ];
    const handler = `contrast-cc-${p.toLowerCase()}-1a2b3c4d`;
    t.deepEqual(rc.scheduling?.nodeSelector, { [`runtime.contrast.edgeless.systems/${handler}`]: 'true' });
    const pod = ds.spec!.template.spec!;
    t.is(pod.serviceAccountName, `${handler}-nodeinstaller`);
    t.is(sa.metadata?.name, pod.serviceAccountName);
    t.deepEqual(pod.initContainers![0]!.env, [
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'CONTRAST_RUNTIME_HANDLER', value: handler },
    ]);
    // get and patch on nodes, nothing else.
    t.deepEqual(role.rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'patch'] }]);
    t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata!.name!, namespace: 'kube-system' }]);
    t.is(binding.roleRef.name, role.metadata!.name!);
    t.is(
      policy.spec?.matchConditions?.[0]?.expression,
      `request.userInfo.username == 'system:serviceaccount:kube-system:${handler}-nodeinstaller'`,
    );
    t.regex(
      policy.spec!.validations![0]!.expression,
      /authentication\.kubernetes\.io\/node-name'\]\[0\] == request\.name/,
    );
    t.is(policyBinding.spec.policyName, policy.metadata!.name!);
    for (const o of [rc, sa, role, binding, policy, policyBinding, ds])
      t.notThrows(() => {
        validateObject(o);
      });
  }
});

test('seed generation: the snapshotter sidecar replaces pause, with its sockets and mounts', (t) => {
  const tardev = installerDaemonSet('AKS-CLH-SNP', { ...RUNTIME, snapshotter: 'tardev' }).spec!.template.spec!;
  const h = 'contrast-cc-aks-clh-snp-1a2b3c4d';
  t.deepEqual(
    tardev.containers.map((c) => c.name),
    ['tardev-snapshotter'],
  );
  t.deepEqual(tardev.containers[0]!.args, [
    'tardev-snapshotter',
    `/var/lib/containerd/io.containerd.snapshotter.v1.tardev-${h}`,
    `/host/run/containerd/tardev-snapshotter-${h}.sock`,
    '/host/var/run/containerd/containerd.sock',
  ]);
  t.deepEqual(
    tardev.containers[0]!.volumeMounts?.map((m) => m.mountPath),
    ['/host', '/var/lib/containerd'],
  );
  t.deepEqual(tardev.volumes?.find((v) => v.name === 'var-lib-containerd')?.hostPath, {
    path: '/var/lib/containerd',
    type: 'Directory',
  });
  const nydus = installerDaemonSet('K3s-QEMU-TDX', { ...RUNTIME, snapshotter: 'nydus' }).spec!.template.spec!;
  const n = 'contrast-cc-k3s-qemu-tdx-1a2b3c4d';
  t.deepEqual(
    nydus.containers.map((c) => c.name),
    ['nydus-snapshotter'],
  );
  t.true(nydus.containers[0]!.args!.includes(`--address=/host/run/containerd/containerd-nydus-grpc-${n}.sock`));
  t.true(nydus.containers[0]!.args!.includes(`--root=/var/lib/nydus-snapshotter/${n}`));
  t.true(nydus.containers[0]!.args!.includes(`--nydus-overlayfs-path=/opt/edgeless/${n}/bin/nydus-overlayfs`));
  t.deepEqual(nydus.volumes?.find((v) => v.name === 'var-lib-nydus-snapshotter')?.hostPath, {
    path: `/var/lib/nydus-snapshotter/${n}`,
    type: 'DirectoryOrCreate',
  });
  t.notThrows(() => {
    validateObject(installerDaemonSet('K3s-QEMU-TDX', { ...RUNTIME, snapshotter: 'nydus' }));
  });
});

test('an installer image with artifacts: its handler, snapshotter, base digest and own digest go into the YAML; without, a comment says so', (t) => {
  const installer = {
    artifacts: true,
    runtimeHash: 'cafe0123',
    runtimeHandlerName: undefined,
    snapshotter: 'nydus' as const,
    baseName: 'docker://r/x@sha256:' + 'a'.repeat(64),
    baseDigest: 'sha256:' + 'a'.repeat(64),
    digest: 'sha256:' + 'b'.repeat(64),
  };
  const opts = { ...OPTS, installer };
  const files = allManifests(opts);
  t.deepEqual([...files.keys()].filter((f) => f.startsWith('runtime-')).sort(), [
    'runtime-k3s-qemu-snp-gpu.yaml',
    'runtime-k3s-qemu-snp.yaml',
    'runtime-k3s-qemu-tdx.yaml',
    'runtime-rke2-qemu-tdx.yaml',
  ]);
  const objs = files.get('runtime-k3s-qemu-snp.yaml')!;
  const rc = objs[0] as IRuntimeClass;
  const ds = objs.at(-1) as IDaemonSet;
  t.is(rc.handler, 'contrast-cc-k3s-qemu-snp-cafe0123');
  t.is(ds.metadata?.annotations?.['contrast.edgeless.systems/installer-base-digest'], installer.baseDigest);
  t.is(
    ds.spec!.template.spec!.initContainers![0]!.image,
    `localhost/contrast-ts/runtime-installer:${VERSION}@${installer.digest}`,
  );
  t.regex(fileComment('runtime-k3s-qemu-snp.yaml', opts).join('\n'), /built on docker:\/\/r\/x@sha256:a+/);
  t.regex(fileComment('runtime-metal-qemu-snp.yaml', OPTS).join('\n'), /carries no Kata artifacts/);
  t.regex(
    readFileSync(join(GENERATED, 'runtime-metal-qemu-snp.yaml'), 'utf8'),
    /carries no Kata artifacts[\s\S]*--installer-base/,
  );
  const named = allManifests({
    ...OPTS,
    installer: { ...installer, snapshotter: undefined, runtimeHandlerName: 'my-runtime' },
  });
  t.is((named.get('runtime-metal-qemu-tdx.yaml')![0] as IRuntimeClass).handler, 'my-runtime');
});

test('skip-initializer: "true" leaves the initializer out (the mesh sidecar and secrets volume stay), other values do not', (t) => {
  const ann = {
    'contrast.edgeless.systems/skip-initializer': 'true',
    'contrast.edgeless.systems/servicemesh-ingress': '',
  };
  const spec = injectContrast(APP, ann, INJECT);
  t.deepEqual(
    spec.initContainers!.map((c) => c.name),
    ['user-init', 'contrast-service-mesh'],
  );
  t.deepEqual(spec.volumes, [{ name: 'contrast-secrets', emptyDir: { medium: 'Memory' } }]);
  const notSkipped = injectContrast(APP, { 'contrast.edgeless.systems/skip-initializer': 'false' }, INJECT);
  t.is(notSkipped.initContainers![0]!.name, 'contrast-initializer');
});

test('the image store: pvc-holder in the initializer image running upstream\'s command, image-store-size, "0" disables', (t) => {
  const spec = injectContrast(APP, {}, { ...INJECT, imageStore: true });
  t.deepEqual(
    spec.initContainers!.map((c) => c.name),
    ['pvc-holder', 'contrast-initializer', 'user-init'],
  );
  const holder = spec.initContainers![0]!;
  t.is(holder.image, INJECT.initializerImage);
  t.deepEqual(holder.command, [...UPSTREAM_COMMANDS.find((c) => c.id === 'image-store-holder')!.argv]);
  t.deepEqual(holder.command, ['/bin/sh', '-c', 'sleep inf']);
  t.is(holder.restartPolicy, 'Always');
  t.deepEqual(holder.resources, { requests: { memory: '50Mi' }, limits: { memory: '50Mi' } });
  t.deepEqual(holder.volumeDevices, [{ devicePath: '/dev/image_store', name: 'image-store' }]);
  const volume = spec.volumes!.find((v) => v.name === 'image-store')!;
  t.is(volume.ephemeral?.volumeClaimTemplate?.spec.resources?.requests?.['storage'], '10Gi');
  t.is(volume.ephemeral?.volumeClaimTemplate?.spec.volumeMode, 'Block');
  const sized = injectContrast(
    APP,
    { 'contrast.edgeless.systems/image-store-size': '250Gi' },
    { ...INJECT, imageStore: true },
  );
  t.is(
    sized.volumes!.find((v) => v.name === 'image-store')!.ephemeral?.volumeClaimTemplate?.spec.resources?.requests?.[
      'storage'
    ],
    '250Gi',
  );
  t.deepEqual(
    injectContrast(sized, { 'contrast.edgeless.systems/image-store-size': '250Gi' }, { ...INJECT, imageStore: true }),
    sized,
    'idempotent',
  );
  const off = injectContrast(
    APP,
    { 'contrast.edgeless.systems/image-store-size': '0' },
    { ...INJECT, imageStore: true },
  );
  t.false(off.initContainers!.some((c) => c.name === 'pvc-holder'));
  t.false(off.volumes!.some((v) => v.name === 'image-store'));
  t.false(
    injectContrast(APP, {}, INJECT).initContainers!.some((c) => c.name === 'pvc-holder'),
    'off unless asked for',
  );
  t.throws(
    () =>
      injectContrast(APP, { 'contrast.edgeless.systems/image-store-size': 'lots' }, { ...INJECT, imageStore: true }),
    { message: /image-store-size="lots": expected a Kubernetes quantity/ },
  );
});

test('workload-secret-id: the annotation, else <group or core>/<version>/<Kind>/<namespace>/<name>', (t) => {
  t.is(
    workloadSecretId({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'web' }, {}),
    'apps/v1/Deployment/default/web',
  );
  t.is(workloadSecretId({ apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p' }, {}), 'core/v1/Pod/ns/p');
  t.is(
    workloadSecretId(
      { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' },
      { 'contrast.edgeless.systems/workload-secret-id': 'shared-db' },
    ),
    'shared-db',
  );
});

test("upstream's memory: 50 Mi request and limit for the initializer and the port-forwarder", (t) => {
  const spec = injectContrast(APP, {}, INJECT);
  t.deepEqual(spec.initContainers![0]!.resources, { requests: { memory: '50Mi' }, limits: { memory: '50Mi' } });
  const pf = allManifests({ ...DEFAULT_MANIFEST_OPTIONS, version: '0.0.0' }).get(
    'port-forwarder-coordinator.yaml',
  )![0] as unknown as IPod;
  t.deepEqual(pf.spec!.containers[0]!.resources, { requests: { memory: '50Mi' }, limits: { memory: '50Mi' } });
});
