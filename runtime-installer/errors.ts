/**
 * Error catalogue of the runtime installer. Every kind has a stable `code`; messages name the offending
 * input and what was expected.
 */
import { ContrastError } from '../lib/errors.js';

/** The DaemonSet was generated for another runtime handler than the one this image installs. */
export class HandlerMismatchError extends ContrastError {
  readonly code = 'ERR_HANDLER_MISMATCH';
}

/** The API server refused or failed the node label update, or the service account files are missing. */
export class NodeLabelError extends ContrastError {
  readonly code = 'ERR_NODE_LABEL';
}

/** A target-config file is empty, unknown or has an invalid value. */
export class TargetConfigError extends ContrastError {
  readonly code = 'ERR_TARGET_CONFIG';
}

/** The platform argument names no known platform. */
export class PlatformError extends ContrastError {
  readonly code = 'ERR_PLATFORM';
}

/** The containerd configuration is missing, invalid, of an unknown version, or cannot be edited losslessly. */
export class ContainerdConfigError extends ContrastError {
  readonly code = 'ERR_CONTAINERD_CONFIG';
}

/** An artifact could not be fetched (unreachable, HTTP status, timeout, source missing). */
export class FetchError extends ContrastError {
  readonly code = 'ERR_FETCH';
}

/** An artifact's content does not match its SRI integrity. */
export class IntegrityError extends ContrastError {
  readonly code = 'ERR_INTEGRITY';
}

/** A D-Bus protocol, authentication or call failure. */
export class DBusError extends ContrastError {
  readonly code: string;
  /** The D-Bus error name for errors returned by the peer, e.g. `org.freedesktop.systemd1.NoSuchUnit`. */
  readonly dbusName: string | undefined;

  constructor(message: string, options?: { cause?: unknown; dbusName?: string; code?: string }) {
    super(message, options);
    this.dbusName = options?.dbusName;
    this.code = options?.code ?? 'ERR_DBUS';
  }
}

/** The systemd unit could not be found or restarted, or the restart did not finish in time. */
export class RestartError extends ContrastError {
  readonly code: string;

  constructor(
    message: string,
    options?: { cause?: unknown; code?: 'ERR_RESTART' | 'ERR_RESTART_TIMEOUT' | 'ERR_NO_UNIT' },
  ) {
    super(message, options);
    this.code = options?.code ?? 'ERR_RESTART';
  }
}

/** A host path would leave HOST_MOUNT (a link leading out), or a component is not what it must be. */
export class HostPathError extends ContrastError {
  readonly code = 'ERR_HOST_PATH';
}

/** Uninstall found neither an install receipt nor anything of ours on the node. */
export class NotInstalledError extends ContrastError {
  readonly code = 'ERR_NOT_INSTALLED';
}

/** The install receipt on the host cannot be read or names something outside our reach. */
export class ReceiptError extends ContrastError {
  readonly code = 'ERR_RECEIPT';
}
