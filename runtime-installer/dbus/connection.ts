/**
 * A minimal D-Bus connection over a unix socket: SASL EXTERNAL authentication, Hello, method calls
 * with timeouts, signal delivery, and (for stand-ins in tests) serving method calls and emitting
 * signals. No fd passing, no introspection.
 */
import { createConnection, type Socket } from 'node:net';
import { DBusError } from '../errors.js';
import {
  asString,
  decodeMessage,
  encodeMessage,
  messageLength,
  MessageType,
  type DBusValue,
  type Message,
} from './wire.js';
import { errorMessage } from '../../lib/errors.js';

export interface Reply {
  readonly signature: string;
  readonly body: DBusValue[];
}

export type CallHandler = (msg: Message) => Promise<Reply> | Reply;

/** `unix:path=/x` or `unix:abstract=x` (the first usable entry of a `;` list) → a connect path. */
export function socketPathOf(address: string): string {
  for (const entry of address.split(';')) {
    const m = /^unix:(.*)$/.exec(entry.trim());
    if (m === null) continue;
    const kv = new Map((m[1] ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
    const path = kv.get('path');
    if (path !== undefined) return decodeURIComponent(path);
    const abstract = kv.get('abstract');
    if (abstract !== undefined) return `\0${decodeURIComponent(abstract)}`;
  }
  throw new DBusError(`D-Bus address ${address}: expected unix:path=<socket>`, { code: 'ERR_DBUS_ADDRESS' });
}

export class DBusConnection {
  private serial = 0;
  private readonly pending = new Map<
    number,
    { resolve: (m: Message) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly signalHandlers = new Set<(m: Message) => void>();
  private callHandler: CallHandler | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private closedError: Error | undefined;
  uniqueName = '';

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    socket.on('close', () => {
      this.failAll(new DBusError('D-Bus connection closed'));
    });
    socket.on('error', (err) => {
      this.failAll(new DBusError(`D-Bus connection: ${err.message}`, { cause: err }));
    });
  }

  /** Connects, authenticates with EXTERNAL (our uid) and says Hello. */
  static async connect(address: string, timeoutMs = 10_000): Promise<DBusConnection> {
    const path = socketPathOf(address);
    const socket = createConnection(path);
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      await authenticate(socket);
    } catch (err) {
      socket.destroy();
      throw new DBusError(`connecting to D-Bus at ${address}: ${errorMessage(err)}`, {
        cause: err,
        code: 'ERR_DBUS_CONNECT',
      });
    } finally {
      clearTimeout(timer);
    }
    const conn = new DBusConnection(socket);
    const hello = await conn.call(
      {
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'Hello',
      },
      timeoutMs,
    );
    conn.uniqueName = asString(hello.body[0]);
    return conn;
  }

  /** Sends a method call and resolves with the reply; an error reply rejects with its D-Bus name. */
  call(
    target: {
      destination: string;
      path: string;
      interface: string;
      member: string;
      signature?: string;
      body?: DBusValue[];
    },
    timeoutMs = 25_000,
  ): Promise<Message> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    const serial = ++this.serial;
    const msg = encodeMessage({
      type: MessageType.MethodCall,
      serial,
      ...target,
      signature: target.signature ?? '',
      body: target.body ?? [],
    });
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(
          new DBusError(
            `${target.interface}.${target.member} on ${target.destination}: no reply within ${timeoutMs} ms`,
            { code: 'ERR_DBUS_TIMEOUT' },
          ),
        );
      }, timeoutMs);
      this.pending.set(serial, { resolve, reject, timer });
      this.socket.write(msg);
    });
  }

  onSignal(handler: (m: Message) => void): () => void {
    this.signalHandlers.add(handler);
    return () => this.signalHandlers.delete(handler);
  }

  /** Serves incoming method calls (stand-ins); a thrown DBusError with dbusName becomes an error reply. */
  serve(handler: CallHandler): void {
    this.callHandler = handler;
  }

  emitSignal(path: string, iface: string, member: string, signature: string, body: DBusValue[]): void {
    this.socket.write(
      encodeMessage({
        type: MessageType.Signal,
        serial: ++this.serial,
        path,
        interface: iface,
        member,
        signature,
        body,
      }),
    );
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      for (;;) {
        const len = messageLength(this.buffer);
        if (len === undefined || this.buffer.length < len) return;
        const msg = decodeMessage(this.buffer.subarray(0, len));
        this.buffer = this.buffer.subarray(len);
        this.dispatch(msg);
      }
    } catch (err) {
      this.socket.destroy(err as Error);
    }
  }

  private dispatch(msg: Message): void {
    if (msg.type === MessageType.MethodReturn || msg.type === MessageType.Error) {
      const p = msg.replySerial === undefined ? undefined : this.pending.get(msg.replySerial);
      if (p === undefined) return;
      this.pending.delete(msg.replySerial ?? 0);
      clearTimeout(p.timer);
      if (msg.type === MessageType.MethodReturn) p.resolve(msg);
      else
        p.reject(
          new DBusError(`${msg.errorName ?? 'error'}: ${typeof msg.body[0] === 'string' ? msg.body[0] : ''}`, {
            dbusName: msg.errorName ?? '',
            code: 'ERR_DBUS_CALL',
          }),
        );
    } else if (msg.type === MessageType.Signal) {
      for (const h of this.signalHandlers) h(msg);
    } else if (this.callHandler !== undefined) {
      void this.answer(msg, this.callHandler);
    }
  }

  private async answer(msg: Message, handler: CallHandler): Promise<void> {
    const base = {
      serial: ++this.serial,
      replySerial: msg.serial,
      ...(msg.sender === undefined ? {} : { destination: msg.sender }),
    };
    try {
      const reply = await handler(msg);
      this.socket.write(encodeMessage({ type: MessageType.MethodReturn, ...base, ...reply }));
    } catch (err) {
      const name =
        err instanceof DBusError && err.dbusName !== undefined ? err.dbusName : 'org.freedesktop.DBus.Error.Failed';
      this.socket.write(
        encodeMessage({ type: MessageType.Error, ...base, errorName: name, signature: 's', body: [errorMessage(err)] }),
      );
    }
  }

  private failAll(err: Error): void {
    this.closedError ??= err;
    for (const [serial, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(serial);
    }
  }
}

/** SASL: NUL byte, AUTH EXTERNAL <hex uid>, expect OK, BEGIN. */
async function authenticate(socket: Socket): Promise<void> {
  const uid = String(process.getuid?.() ?? 0);
  socket.write(`\0AUTH EXTERNAL ${Buffer.from(uid).toString('hex')}\r\n`);
  const line = await readLine(socket);
  if (!line.startsWith('OK ')) throw new DBusError(`authentication rejected: ${line}`, { code: 'ERR_DBUS_AUTH' });
  socket.write('BEGIN\r\n');
}

function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc = '';
    const onData = (chunk: Buffer) => {
      acc += chunk.toString('latin1');
      const nl = acc.indexOf('\r\n');
      if (nl === -1) return;
      cleanup();
      if (nl + 2 < acc.length) socket.unshift(Buffer.from(acc.slice(nl + 2), 'latin1'));
      resolve(acc.slice(0, nl));
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('connection closed during authentication'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
  });
}
