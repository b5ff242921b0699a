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
