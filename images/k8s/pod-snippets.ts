/**
 * What `contrast generate` adds to a confidential pod, for our images (upstream
 * `internal/kuberesource/{parts,mutators}.go`, service-mesh spec §6.2/§6.3, aTLS spec §6):
 *
 * - the initializer as the FIRST init container, writing certificates into the `contrast-secrets`
 *   volume at /contrast, dialing COORDINATOR_HOST;
 * - the meshproxy as a native sidecar (init container with restartPolicy Always) appended at the
 *   end, with NET_ADMIN, a startup probe on /ready and the service-mesh annotations as environment;
 * - the `contrast-secrets` volume, an in-memory emptyDir;
 * - with the image store (`--inject-image-store` upstream, `imageStore` here) the `pvc-holder`
 *   sidecar in the initializer image and an ephemeral block volume of `image-store-size` (10Gi).
 * Annotations honoured as upstream's generator does: `skip-initializer: "true"` (no initializer),
 * `image-store-size` (`"0"`: no image store), `workload-secret-id` (workloadSecretId()), the
 * service-mesh ones. (`secure-pv` is the encrypted-volume work's.)
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { UPSTREAM_COMMANDS } from '../upstream-commands.js';
import { CONTRAST_DIR } from '../../lib/pod-layout.js';

export const ANNOTATION_PREFIX = 'contrast.edgeless.systems/';
export const SECRETS_VOLUME = 'contrast-secrets';
export const SECRETS_MOUNT = CONTRAST_DIR;

/** Annotation -> sidecar environment variable. */
export const MESH_ANNOTATIONS: Readonly<Record<string, string>> = {
  'servicemesh-ingress': 'CONTRAST_INGRESS_PROXY_CONFIG',
  'servicemesh-egress': 'CONTRAST_EGRESS_PROXY_CONFIG',
  'servicemesh-admin-interface-port': 'CONTRAST_ADMIN_PORT',
};

export function secretsVolume(): IVolume {
  return { name: SECRETS_VOLUME, emptyDir: { medium: 'Memory' } };
}

export interface InitializerOptions {
  readonly image: string;
  /** Host name of the Coordinator's mesh API (port 7777). */
  readonly coordinatorHost: string;
  /** No sidecar in this pod: the initializer removes the default-deny rule itself. */
  readonly serviceMeshDisabled: boolean;
}

export function initializerContainer(opts: InitializerOptions): IContainer {
  const env: IEnvVar[] = [{ name: 'COORDINATOR_HOST', value: opts.coordinatorHost }];
  if (opts.serviceMeshDisabled) env.push({ name: 'CONTRAST_SERVICE_MESH_DISABLED', value: 'true' });
  return {
    name: 'contrast-initializer',
    image: opts.image,
    env,
    // Upstream v1.17: 50 Mi request and limit (the limit also sizes the pod VM under Kata).
    resources: { requests: { memory: '50Mi' }, limits: { memory: '50Mi' } },
    // NET_ADMIN: removing the pod VM's default-deny rule when no sidecar does it.
    securityContext: { capabilities: { add: ['NET_ADMIN'] } },
    volumeMounts: [{ name: SECRETS_VOLUME, mountPath: SECRETS_MOUNT }],
  };
}

/** The service-mesh annotations present on a pod template (key without prefix -> value). */
export function meshAnnotations(annotations: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(MESH_ANNOTATIONS)) {
    const value = annotations[ANNOTATION_PREFIX + key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** A pod needs the sidecar when any service-mesh annotation key is present, even with an empty value. */
export function needsServiceMesh(annotations: Readonly<Record<string, string>>): boolean {
  return Object.keys(meshAnnotations(annotations)).length > 0;
}

export function meshproxyContainer(image: string, annotations: Readonly<Record<string, string>>): IContainer {
  const present = meshAnnotations(annotations);
  // Only non-empty values become variables (an empty ingress value means "all ports mTLS" either way).
  const env: IEnvVar[] = Object.entries(present)
    .filter(([, value]) => value !== '')
    .map(([key, value]) => ({ name: MESH_ANNOTATIONS[key] ?? '', value }));
  const admin = present['servicemesh-admin-interface-port'];
  const adminPort = admin !== undefined && admin !== '' ? Number(admin) : undefined;
  if (adminPort !== undefined && (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535)) {
    throw new RangeError(`parsing service mesh admin interface port: ${JSON.stringify(admin)} is not a port number`);
  }
  return {
    name: 'contrast-service-mesh',
    image,
    restartPolicy: 'Always',
    args: ['-l', 'debug'],
    env,
    securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'] } },
    startupProbe: {
      exec: { command: upstreamArgv('meshproxy-startup-probe') },
      initialDelaySeconds: 1,
      periodSeconds: 5,
      failureThreshold: 5,
    },
    volumeMounts: [{ name: SECRETS_VOLUME, mountPath: SECRETS_MOUNT }],
    ...(adminPort !== undefined && adminPort !== 0
      ? { ports: [{ name: 'contrast-admin', containerPort: adminPort }] }
      : {}),
  };
}

export interface InjectOptions {
  readonly initializerImage: string;
  readonly meshproxyImage: string;
  readonly coordinatorHost: string;
  /** Names of the owning StatefulSet's volumeClaimTemplates (a secure-pv device may name one). */
  readonly volumeClaimTemplates?: readonly string[];
  /** Add the secure image store (upstream's `contrast generate --inject-image-store`); default false. */
  readonly imageStore?: boolean;
}

export const SECURE_PV_ANNOTATION = `${ANNOTATION_PREFIX}secure-pv`;
/** Where the initializer sees the secure-pv block device, and where it mounts the decrypted volume. */
export const SECURE_PV_DEVICE_PATH = '/dev/csi0';
export const SECURE_PV_MOUNT_PATH = '/state';

/**
 * The `contrast.edgeless.systems/secure-pv: <device volume>:<mount volume>` annotation, as upstream's
 * generator applies it: the device volume must be a PVC or iSCSI volume (or a volumeClaimTemplate of the
 * StatefulSet); the mount volume is an emptyDir (created in memory when absent) that the initializer
 * mounts the decrypted volume onto at /state with bidirectional propagation, so that the application
 * containers mounting the same volume see it. The initializer becomes a privileged native sidecar
 * (restartPolicy Always) with CRYPTSETUP_DEVICE, the block device, 100Mi of memory and the startup
 * probe `/bin/test -f /done`. Returns the changed container and volumes; throws on a bad annotation.
 */
export function applySecurePv(
  initializer: IContainer,
  volumes: readonly IVolume[],
  value: string,
  claimTemplates: readonly string[] = [],
): { initializer: IContainer; volumes: IVolume[] } {
  const parts = value.split(':');
  const [device, mount] = parts;
  if (parts.length !== 2 || device === undefined || mount === undefined || device === '' || mount === '') {
    throw new TypeError(
      `${SECURE_PV_ANNOTATION}=${JSON.stringify(value)}: secure PV annotation has to be in the format 'device-name:mount-name'`,
    );
  }
  const deviceVolume = volumes.find((v) => v.name === device);
  if (
    deviceVolume === undefined
      ? !claimTemplates.includes(device)
      : deviceVolume.persistentVolumeClaim === undefined && deviceVolume.iscsi === undefined
  ) {
    throw new TypeError(
      deviceVolume === undefined
        ? `device ${JSON.stringify(device)} not found`
        : `volume ${JSON.stringify(device)} must reference a PVC or iSCSI device`,
    );
  }
  const mountVolume = volumes.find((v) => v.name === mount);
  if (mountVolume !== undefined && mountVolume.emptyDir === undefined)
    throw new TypeError(`volume ${mount} has to be of type EmptyDir`);
  return {
    initializer: {
      ...initializer,
      env: [...(initializer.env ?? []), { name: 'CRYPTSETUP_DEVICE', value: SECURE_PV_DEVICE_PATH }],
      volumeDevices: [{ name: device, devicePath: SECURE_PV_DEVICE_PATH }],
      volumeMounts: [
        ...(initializer.volumeMounts ?? []),
        { name: mount, mountPath: SECURE_PV_MOUNT_PATH, mountPropagation: 'Bidirectional' },
      ],
      securityContext: { privileged: true },
      resources: { requests: { memory: '100Mi' }, limits: { memory: '100Mi' } },
      startupProbe: { failureThreshold: 20, periodSeconds: 5, exec: { command: ['/bin/test', '-f', '/done'] } },
      restartPolicy: 'Always',
    },
    volumes: mountVolume === undefined ? [...volumes, { name: mount, emptyDir: { medium: 'Memory' } }] : [...volumes],
  };
}

export const SKIP_INITIALIZER_ANNOTATION = `${ANNOTATION_PREFIX}skip-initializer`;
export const IMAGE_STORE_SIZE_ANNOTATION = `${ANNOTATION_PREFIX}image-store-size`;
export const WORKLOAD_SECRET_ID_ANNOTATION = `${ANNOTATION_PREFIX}workload-secret-id`;
export const IMAGE_STORE_VOLUME = 'image-store';
export const IMAGE_STORE_HOLDER = 'pvc-holder';
export const DEFAULT_IMAGE_STORE_SIZE = '10Gi';

function upstreamArgv(id: string): string[] {
  const c = UPSTREAM_COMMANDS.find((x) => x.id === id);
  if (c === undefined) throw new Error(`images/upstream-commands.ts has no ${id}`);
  return [...c.argv];
}

/**
 * The workload secret ID of a pod-bearing object, as upstream's CLI puts it into the manifest: the
 * `workload-secret-id` annotation when set, else `<group or "core">/<version>/<Kind>/<namespace>/<name>`.
 */
export function workloadSecretId(
  obj: { apiVersion: string; kind: string; namespace?: string; name: string },
  annotations: Readonly<Record<string, string>>,
): string {
  const explicit = annotations[WORKLOAD_SECRET_ID_ANNOTATION];
  if (explicit !== undefined && explicit !== '') return explicit;
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['core', obj.apiVersion];
  return `${group ?? 'core'}/${version ?? ''}/${obj.kind}/${obj.namespace ?? 'default'}/${obj.name}`;
}

/** The image-store holder (upstream `AddImageStore`): keeps the block device attached to the pod VM. */
export function imageStoreHolder(initializerImage: string): IContainer {
  return {
    name: IMAGE_STORE_HOLDER,
    image: initializerImage,
    command: upstreamArgv('image-store-holder'),
    restartPolicy: 'Always',
    securityContext: { privileged: true },
    resources: { requests: { memory: '50Mi' }, limits: { memory: '50Mi' } },
    volumeDevices: [{ devicePath: '/dev/image_store', name: IMAGE_STORE_VOLUME }],
  };
}

export function imageStoreVolume(size: string): IVolume {
  if (!/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.test(size)) {
    throw new RangeError(
      `${IMAGE_STORE_SIZE_ANNOTATION}=${JSON.stringify(size)}: expected a Kubernetes quantity such as 10Gi, or "0" for no image store`,
    );
  }
  return {
    name: IMAGE_STORE_VOLUME,
    ephemeral: {
      volumeClaimTemplate: {
        spec: { volumeMode: 'Block', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } },
      },
    },
  };
}

/**
 * Adds the initializer (first), the mesh sidecar (last, when annotated) and the secrets volume to a
 * pod spec, replacing earlier copies of them; the input is not modified.
 */
export function injectContrast(
  spec: IPodSpec,
  annotations: Readonly<Record<string, string>>,
  opts: InjectOptions,
): IPodSpec {
  const mesh = needsServiceMesh(annotations);
  const skipInitializer = annotations[SKIP_INITIALIZER_ANNOTATION] === 'true';
  const storeSize = annotations[IMAGE_STORE_SIZE_ANNOTATION] ?? '';
  const store =
    opts.imageStore === true && storeSize !== '0'
      ? imageStoreVolume(storeSize === '' ? DEFAULT_IMAGE_STORE_SIZE : storeSize)
      : undefined;
  const ours = new Set(['contrast-initializer', 'contrast-service-mesh', IMAGE_STORE_HOLDER]);
  const userInit = (spec.initContainers ?? []).filter((c) => !ours.has(c.name));
  let initializer = initializerContainer({
    image: opts.initializerImage,
    coordinatorHost: opts.coordinatorHost,
    serviceMeshDisabled: !mesh,
  });
  let userVolumes: IVolume[] = [...(spec.volumes ?? [])];
  const securePv = annotations[SECURE_PV_ANNOTATION];
  if (securePv !== undefined && securePv !== '') {
    ({ initializer, volumes: userVolumes } = applySecurePv(
      initializer,
      userVolumes,
      securePv,
      opts.volumeClaimTemplates,
    ));
  }
  const initContainers: IContainer[] = [
    ...(store !== undefined ? [imageStoreHolder(opts.initializerImage)] : []),
    ...(skipInitializer ? [] : [initializer]),
    ...userInit,
    ...(mesh ? [meshproxyContainer(opts.meshproxyImage, annotations)] : []),
  ];
  const existing = userVolumes.find((v) => v.name === SECRETS_VOLUME);
  if (existing !== undefined && existing.emptyDir === undefined) {
    throw new TypeError(`volume ${SECRETS_VOLUME} has to be of type EmptyDir`);
  }
  const withSecrets = existing !== undefined ? userVolumes : [...userVolumes, secretsVolume()];
  const volumes =
    store !== undefined && !withSecrets.some((v) => v.name === IMAGE_STORE_VOLUME)
      ? [...withSecrets, store]
      : withSecrets;
  const containers = spec.containers.map((c) => ({
    ...c,
    volumeMounts: [
      ...(c.volumeMounts ?? []).filter((m) => m.name !== SECRETS_VOLUME),
      { name: SECRETS_VOLUME, mountPath: SECRETS_MOUNT },
    ],
  }));
  return { ...spec, initContainers, containers, volumes };
}
