/**
 * The installer's configuration from the environment, parsed once at the edge.
 */
import { EnvReader, type Env } from '../lib/config.js';
import { DEFAULT_HTTP_OPTIONS, type HttpOptions, type ProxySettings } from './asset-source.js';
import { parsePlatform, type Platform } from './platforms.js';
import { DEFAULT_SYSTEM_BUS } from './systemd.js';
import { EMBEDDED_HANDLER_PATH } from '../lib/node-install/embedded-handler.js';
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
  if (nodeName !== undefined && apiHost === undefined)
    r.problem(
      'KUBERNETES_SERVICE_HOST: expected the API server address (set by Kubernetes in every pod) when NODE_NAME is set',
    );
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
      // 0 (the default): derived from the Content-Length and the minimum rate.
      deadlineMs: r.duration('CONTRAST_INSTALLER_FETCH_DEADLINE', '0s'),
      minBytesPerSecond: rate(r, 'CONTRAST_INSTALLER_FETCH_MIN_RATE', DEFAULT_HTTP_OPTIONS.minBytesPerSecond),
      proxy: proxySettings(r),
    }),
    embeddedHandlerPath: r.string('CONTRAST_RUNTIME_HANDLER_FILE', EMBEDDED_HANDLER_PATH),
    expectedHandler: r.optional('CONTRAST_RUNTIME_HANDLER'),
    nodeLabel:
      nodeName === undefined || apiHost === undefined
        ? undefined
        : Object.freeze({
            nodeName,
            apiServer: `https://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${apiPort}`,
            serviceAccountDir,
            timeoutMs: r.duration('CONTRAST_INSTALLER_API_TIMEOUT', '30s', { min: 1 }),
          }),
  });
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** A rate in bytes per second: `500KiB`, `1MiB/s`, `2MB`, `65536`. */
export function parseRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s)?$/i.exec(text.trim());
  if (m === null) return undefined;
  const unit = UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * unit);
  return n >= 1 && Number.isSafeInteger(n) ? n : undefined;
}

function rate(r: EnvReader, name: string, fallback: number): number {
  const found = r.lookup(name);
  if (found === undefined) return fallback;
  const n = parseRate(found.value);
  if (n === undefined) {
    r.problem(`${name}=${found.value}: expected a rate of at least 1 byte/s such as 512KiB, 1MiB/s or 65536`);
    return fallback;
  }
  return n;
}

/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY, lowercase spellings first (as curl and undici read them); an
 * empty value counts as unset. A proxy must be an http:// or https:// URL.
 */
function proxySettings(r: EnvReader): ProxySettings {
  const get = (upper: string): string | undefined => {
    for (const name of [upper.toLowerCase(), upper]) {
      const found = r.lookup(name);
      if (found !== undefined && found.value.trim() !== '') return found.value.trim();
    }
    return undefined;
  };
  const url = (upper: string): string | undefined => {
    const v = get(upper);
    if (v === undefined) return undefined;
    let u: URL | undefined;
    try {
      u = new URL(v);
    } catch {
      u = undefined;
    }
    if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
      r.problem(`${upper}=${v}: expected a proxy URL such as http://proxy.example:3128`);
      return undefined;
    }
    return v;
  };
  return Object.freeze({ httpProxy: url('HTTP_PROXY'), httpsProxy: url('HTTPS_PROXY'), noProxy: get('NO_PROXY') });
}
