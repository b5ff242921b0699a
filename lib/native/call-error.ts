/** The shape of a failed system call made through the addon: the errno name, its number and the call. */
import { ContrastError } from '../errors.js';

export abstract class NativeCallError extends ContrastError {
  constructor(
    message: string,
    /** The errno name, e.g. EPERM, EXDEV, ELOOP. */
    readonly errnoCode: string,
    readonly errno: number,
    readonly syscall: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type CallErrorClass = new (
  message: string,
  errnoCode: string,
  errno: number,
  syscall: string,
  options?: { cause?: unknown },
) => NativeCallError;
type ArgumentErrorClass = new (message: string, options?: { cause?: unknown }) => ContrastError;

/**
 * Runs one addon call; an errno failure (the addon throws { code, errno, syscall }) becomes `CallError`,
 * anything else (a bad argument the addon refused) `ArgumentError`, both prefixed with `what`.
 */
export function callNative<T>(
  what: string,
  call: () => T,
  CallError: CallErrorClass,
  ArgumentError: ArgumentErrorClass,
): T {
  try {
    return call();
  } catch (err) {
    const e = err as { code?: unknown; errno?: unknown; syscall?: unknown; message?: unknown };
    if (typeof e.errno === 'number' && typeof e.code === 'string') {
      throw new CallError(
        `${what}: ${String(e.message)}`,
        e.code,
        e.errno,
        typeof e.syscall === 'string' ? e.syscall : '',
        { cause: err },
      );
    }
    throw new ArgumentError(`${what}: ${String(e.message)}`, { cause: err });
  }
}
