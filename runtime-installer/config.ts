/**
 * The installer's configuration from the environment, parsed once at the edge.
 */
import { EnvReader, type Env } from '../lib/config.js';
import { DEFAULT_HTTP_OPTIONS, type HttpOptions } from './asset-source.js';
import { parsePlatform, type Platform } from './platforms.js';
import { DEFAULT_SYSTEM_BUS } from './systemd.js';
import { EMBEDDED_HANDLER_PATH } from './embedded-handler.js';
import { DEFAULT_SERVICE_ACCOUNT_DIR, type NodeLabelConfig } from './node-label.js';

export interface InstallerConfig {
  readonly platform: Platform;
  /** Holds `contrast-node-install.json` and the `file://` sources' image tree. */
  readonly configDir: string;
  readonly hostMount: string;
  readonly targetConfigDir: string;
  readonly imagepullerConfigDir: string;
  readonly busAddress: string;
  readonly restartTimeoutMs: number;
  readonly http: HttpOptions;
  /** The handler value the image build embedded (absent outside the image: derived from the manifest). */
  readonly embeddedHandlerPath: string;
  /** CONTRAST_RUNTIME_HANDLER: the handler the generated DaemonSet expects; a different one is an error. */
  readonly expectedHandler: string | undefined;
  /** Node labelling through the API server; undefined without NODE_NAME (not in a cluster). */
  readonly nodeLabel: NodeLabelConfig | undefined;
}

/** Parses env; the platform argument is parsed first (PlatformError), env problems together (ConfigError). */
export function parseInstallerConfig(platformArg: string | undefined, env: Env): InstallerConfig {
  const platform = parsePlatform(platformArg);
  const r = new EnvReader(env);
  const attempts = r.integer('CONTRAST_INSTALLER_FETCH_ATTEMPTS', { min: 1, max: 20 }) ?? DEFAULT_HTTP_OPTIONS.attempts;
  const nodeName = r.optional('NODE_NAME');
  const apiHost = r.optional('KUBERNETES_SERVICE_HOST');
  const apiPort = r.integer('KUBERNETES_SERVICE_PORT', { min: 1, max: 65535 }) ?? 443;
  if (nodeName !== undefined && apiHost === undefined) r.problem('KUBERNETES_SERVICE_HOST: expected the API server address (set by Kubernetes in every pod) when NODE_NAME is set');
  const serviceAccountDir = r.string('CONTRAST_SERVICE_ACCOUNT_DIR', DEFAULT_SERVICE_ACCOUNT_DIR);
  return r.finish({
    platform,
    configDir: r.string('CONFIG_DIR', '/config'),
    hostMount: r.string('HOST_MOUNT', '/host'),
    targetConfigDir: r.string('TARGET_CONFIG_DIR', '/target-config'),
    imagepullerConfigDir: r.string('IMAGEPULLER_CONFIG_DIR', '/imagepuller-config'),
    busAddress: r.string('DBUS_SYSTEM_BUS_ADDRESS', DEFAULT_SYSTEM_BUS),
    restartTimeoutMs: r.duration('CONTRAST_INSTALLER_RESTART_TIMEOUT', '2m', { min: 1 }),
    http: Object.freeze({
      ...DEFAULT_HTTP_OPTIONS,
      attempts,
      timeoutMs: r.duration('CONTRAST_INSTALLER_FETCH_TIMEOUT', '60s', { min: 1 }),
      backoffMs: r.duration('CONTRAST_INSTALLER_FETCH_BACKOFF', '1s'),
    }),
    embeddedHandlerPath: r.string('CONTRAST_RUNTIME_HANDLER_FILE', EMBEDDED_HANDLER_PATH),
    expectedHandler: r.optional('CONTRAST_RUNTIME_HANDLER'),
    nodeLabel: nodeName === undefined || apiHost === undefined ? undefined : Object.freeze({
      nodeName,
      apiServer: `https://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${apiPort}`,
      serviceAccountDir,
      timeoutMs: r.duration('CONTRAST_INSTALLER_API_TIMEOUT', '30s', { min: 1 }),
    }),
  });
}
