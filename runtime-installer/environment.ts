/** The variables contrast-runtime-installer reads, for --help and docs/configuration.md (read by config.ts). */
import { LOG_ENVIRONMENT, UNSET, type EnvVarDoc } from '../lib/environment.js';
import { DEFAULT_HTTP_OPTIONS } from './asset-source.js';
import { DEFAULT_SYSTEM_BUS } from './systemd.js';

export const INSTALLER_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([
  { name: 'CONFIG_DIR', default: '/config', meaning: 'holds the install manifest contrast-node-install.json' },
  {
    name: 'HOST_MOUNT',
    default: '/host',
    meaning: "the node's root filesystem; every host path is resolved inside it",
  },
  {
    name: 'TARGET_CONFIG_DIR',
    default: '/target-config',
    meaning: 'optional target-config ConfigMap; missing: the platform defaults',
  },
  {
    name: 'IMAGEPULLER_CONFIG_DIR',
    default: '/imagepuller-config',
    meaning: 'optional contrast-imagepuller.toml for the Kata runtime',
  },
  {
    name: 'DBUS_SYSTEM_BUS_ADDRESS',
    default: DEFAULT_SYSTEM_BUS,
    meaning: "the host's system bus (to restart containerd)",
  },
  {
    name: 'CONTRAST_INSTALLER_RESTART_TIMEOUT',
    default: '2m',
    meaning: "how long to wait for containerd's restart job",
  },
  {
    name: 'CONTRAST_INSTALLER_FETCH_ATTEMPTS',
    default: String(DEFAULT_HTTP_OPTIONS.attempts),
    meaning: 'attempts per http(s) artifact (1 to 20), transient failures retried',
  },
  {
    name: 'CONTRAST_INSTALLER_FETCH_BACKOFF',
    default: '1s',
    meaning: 'first wait between attempts, doubled after each failure',
  },
  { name: 'CONTRAST_INSTALLER_FETCH_TIMEOUT', default: '60s', meaning: 'idle timeout of one download attempt' },
  {
    name: 'CONTRAST_INSTALLER_FETCH_DEADLINE',
    default: '0s',
    meaning: 'total time for one artifact, retries included; 0: derived from its Content-Length at the minimum rate',
  },
  {
    name: 'CONTRAST_INSTALLER_FETCH_MIN_RATE',
    default: '1MiB/s',
    meaning: 'the slowest acceptable download rate (512KiB, 1MiB/s, 65536); slower downloads fail',
  },
  { name: 'HTTPS_PROXY', default: UNSET, meaning: 'proxy for https:// artifacts (https_proxy wins, as with curl)' },
  { name: 'HTTP_PROXY', default: UNSET, meaning: 'proxy for http:// artifacts (http_proxy wins)' },
  { name: 'NO_PROXY', default: UNSET, meaning: 'hosts fetched without the proxy, comma separated (no_proxy wins)' },
  { name: 'https_proxy', default: UNSET, meaning: 'as HTTPS_PROXY' },
  { name: 'http_proxy', default: UNSET, meaning: 'as HTTP_PROXY' },
  { name: 'no_proxy', default: UNSET, meaning: 'as NO_PROXY' },
  {
    name: 'CONTRAST_RUNTIME_HANDLER_FILE',
    default: '/usr/share/misc/contrast/runtime-handler.json',
    meaning: 'the handler value the image build embedded; absent outside an image built on a base',
  },
  {
    name: 'CONTRAST_RUNTIME_HANDLER',
    default: UNSET,
    meaning:
      'the handler the generated DaemonSet was made for; another handler is ERR_HANDLER_MISMATCH before anything changes',
  },
  {
    name: 'NODE_NAME',
    default: UNSET,
    meaning: 'this node (downward API); set: the node is labelled runtime.contrast.edgeless.systems/<handler>=true',
  },
  {
    name: 'KUBERNETES_SERVICE_HOST',
    default: UNSET,
    meaning: 'the API server (set by Kubernetes); required with NODE_NAME',
  },
  { name: 'KUBERNETES_SERVICE_PORT', default: '443', meaning: 'the API server port' },
  {
    name: 'CONTRAST_SERVICE_ACCOUNT_DIR',
    default: '/var/run/secrets/kubernetes.io/serviceaccount',
    meaning: 'token and ca.crt of the DaemonSet service account',
  },
  { name: 'CONTRAST_INSTALLER_API_TIMEOUT', default: '30s', meaning: 'per API server request' },
  ...LOG_ENVIRONMENT,
]);
