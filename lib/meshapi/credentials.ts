/**
 * grpc-js channel credentials whose secure connector runs the aTLS handshake on every new TCP
 * connection (fresh nonce each time) and hands grpc-js the plaintext stream. grpc-js then speaks
 * HTTP/2 over it (`secure: false` only means "not a node:tls socket": the stream is TLS-protected).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CallCredentials, ChannelCredentials, type experimental } from '@grpc/grpc-js';
import { toError } from '../errors.js';

export type StreamConnector = (socket: Socket) => Promise<Duplex>;

export class AtlsChannelCredentials extends ChannelCredentials {
  readonly #connect: StreamConnector;
  #lastError: Error | undefined;

  constructor(connect: StreamConnector) {
    super();
    this.#connect = connect;
  }

  /** The last error of a connection attempt or of an established aTLS stream (for error mapping). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  override compose(): ChannelCredentials {
    throw new Error('AtlsChannelCredentials: call credentials are not supported');
  }

  _isSecure(): boolean {
    return true;
  }

  _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(
    _target: unknown,
    _options: unknown,
    callCredentials?: CallCredentials,
  ): experimental.SecureConnector {
    const credentials = callCredentials ?? CallCredentials.createEmpty();
    return {
      connect: async (socket: Socket) => {
        try {
          const stream = await this.#connect(socket);
          stream.on('error', (err: Error) => {
            this.#lastError = err;
          });
          // grpc-js types the result as a net.Socket; http2 accepts any Duplex (wrapped in a JS stream socket).
          return { socket: stream as unknown as Socket, secure: false };
        } catch (err) {
          this.#lastError = toError(err);
          throw err;
        }
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => credentials,
      destroy: () => {
        /* nothing pooled */
      },
    };
  }
}
