/**
 * Transparent sockets, the typed face of native/src/sockets.c.
 *
 * - `transparentListen()` creates, binds and listens an IPv4 (IP_TRANSPARENT) or IPv6
 *   (IPV6_TRANSPARENT, IPV6_V6ONLY) TCP socket and returns its fd, for `net.Server.listen({ fd })`.
 *   TPROXY'd connections are delivered only to transparent listeners; setting the option needs
 *   CAP_NET_ADMIN.
 * - `originalDestination()` reads SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST of an accepted socket's fd
 *   (conntrack's view of the destination before NAT). With TPROXY the socket's local address already is
 *   the original destination; this call is for REDIRECT-style interception and for cross-checks.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net';
import { ContrastError } from '../errors.js';
import { loadAddon } from './addon.js';
import { callNative, NativeCallError } from './call-error.js';

interface SocketsAddon {
  transparentListen(family: number, address: string, port: number, backlog: number, mark?: number): number;
  originalDestination(fd: number): { family: number; address: string; port: number };
  socketConstants(): Record<string, number>;
}

export interface SocketAddress {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
}

/** A failed socket system call, with the errno name as `errnoCode` (e.g. EPERM, EADDRINUSE). */
export class SocketCallError extends NativeCallError {
  readonly code = 'ERR_NATIVE_SOCKET';
}

export class SocketArgumentError extends ContrastError {
  readonly code = 'ERR_NATIVE_SOCKET_ARGUMENT';
}

function wrap<T>(what: string, call: () => T): T {
  return callNative(what, call, SocketCallError, SocketArgumentError);
}

/** Sockets API bound to the loaded addon. */
export class TransparentSockets {
  private readonly addon: SocketsAddon;

  constructor(addon: SocketsAddon = loadAddon<SocketsAddon>()) {
    this.addon = addon;
  }

  /**
   * Returns a listening, non-blocking, close-on-exec fd. The caller owns it (net.Server takes it over).
   * A non-zero `mark` becomes the socket's SO_MARK, inherited by every accepted socket.
   */
  transparentListen(address: string, port: number, backlog = 511, mark = 0): number {
    const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : 0;
    if (family === 0)
      throw new SocketArgumentError(`transparent listener address ${address}: expected an IPv4 or IPv6 address`);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new SocketArgumentError(`transparent listener port ${port}: expected 0 to 65535`);
    if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff)
      throw new SocketArgumentError(`transparent listener mark ${mark}: expected 0 to 0xffffffff`);
    return wrap(`transparent listener on ${family === 6 ? `[${address}]` : address}:${port}`, () =>
      mark === 0
        ? this.addon.transparentListen(family, address, port, backlog)
        : this.addon.transparentListen(family, address, port, backlog, mark),
    );
  }

  /** SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6) of a connected socket's fd. */
  originalDestination(fd: number): SocketAddress {
    if (!Number.isInteger(fd) || fd < 0)
      throw new SocketArgumentError(`original destination of fd ${fd}: expected a file descriptor`);
    const r = wrap(`original destination of fd ${fd}`, () => this.addon.originalDestination(fd));
    return { family: r.family === 6 ? 6 : 4, address: r.address, port: r.port };
  }

  /** The option numbers compiled into the addon. */
  constants(): Readonly<Record<string, number>> {
    return this.addon.socketConstants();
  }
}

/** The fd of a connected net.Socket (Node keeps it on the internal handle on Linux). */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0)
    throw new SocketArgumentError('socket has no file descriptor (closed, or not a TCP socket)');
  return fd;
}
