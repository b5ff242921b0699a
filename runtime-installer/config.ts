/**
 * The installer's configuration from the environment, parsed once at the edge.
 */
import { EnvReader, type Env } from '../lib/config.js';
import { DEFAULT_HTTP_OPTIONS, type HttpOptions } from './asset-source.js';
import { parsePlatform, type Platform } from './platforms.js';
import { DEFAULT_SYSTEM_BUS } from './systemd.js';

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
}

/** Parses env; the platform argument is parsed first (PlatformError), env problems together (ConfigError). */
export function parseInstallerConfig(platformArg: string | undefined, env: Env): InstallerConfig {
  const platform = parsePlatform(platformArg);
  const r = new EnvReader(env);
  const attempts = r.integer('CONTRAST_INSTALLER_FETCH_ATTEMPTS', { min: 1, max: 20 }) ?? DEFAULT_HTTP_OPTIONS.attempts;
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
  });
}
