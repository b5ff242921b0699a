/**
 * configfs-tsm report interface (Linux 6.7+): a private entry per request, `inblob` in, `outblob`
 * (and `auxblob` for SNP) out, with the generation check of the documented client procedure
 * (tee-abi.md §3.3). Plain file I/O; reads run on the libuv thread pool.
 */
import { mkdtemp, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { errorCode, errorMessage } from '../errors.js';

export interface TsmReport {
  readonly provider: string;
  readonly outblob: Buffer;
  /** SNP certificate table; empty when the host supplied none or it was not asked for. */
  readonly auxblob: Buffer;
}

export interface TsmRequest {
  readonly inblob: Uint8Array;
  /** SNP VMPL to request; written only when given. */
  readonly privlevel?: number;
  readonly readAuxblob?: boolean;
}

function deviceError(path: string, action: string, err: unknown): AttestationError {
  return new AttestationError(
    ATTESTATION_ERROR_CODES.DEVICE,
    `configfs-tsm ${action} ${path}: ${errorCode(err) ?? errorMessage(err)}`,
    { cause: err },
  );
}

async function readGeneration(entry: string): Promise<number> {
  const path = join(entry, 'generation');
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw deviceError(path, 'reading', err);
  }
  if (!/^\d+$/.test(text))
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.DEVICE,
      `configfs-tsm ${path}: "${text}", expected a decimal counter`,
    );
  return Number(text);
}

async function withEntry<T>(dir: string, use: (entry: string) => Promise<T>): Promise<T> {
  let entry: string;
  try {
    entry = await mkdtemp(join(dir, 'entry'));
  } catch (err) {
    throw deviceError(dir, 'creating an entry in', err);
  }
  try {
    return await use(entry);
  } finally {
    await rmdir(entry).catch(() => undefined);
  }
}

async function readProvider(entry: string): Promise<string> {
  const path = join(entry, 'provider');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw deviceError(path, 'reading', err);
  }
}

/** The provider name (`sev_guest`, `tdx_guest`, ...) or undefined when configfs-tsm is not usable at `dir`. */
export async function tsmProvider(dir: string): Promise<string | undefined> {
  try {
    return await withEntry(dir, readProvider);
  } catch {
    return undefined;
  }
}

export async function tsmGetReport(dir: string, req: TsmRequest): Promise<TsmReport> {
  return withEntry(dir, async (entry) => {
    let expected = await readGeneration(entry);
    const write = async (name: string, data: Uint8Array | string): Promise<void> => {
      const path = join(entry, name);
      try {
        await writeFile(path, data);
      } catch (err) {
        throw deviceError(path, 'writing', err);
      }
      expected += 1;
    };
    const read = async (name: string): Promise<Buffer> => {
      const path = join(entry, name);
      let data: Buffer;
      try {
        data = await readFile(path);
      } catch (err) {
        throw deviceError(path, 'reading', err);
      }
      const now = await readGeneration(entry);
      if (now !== expected) {
        throw new AttestationError(
          ATTESTATION_ERROR_CODES.GENERATION,
          `configfs-tsm ${path}: generation ${now}, expected ${expected}: another writer used the entry`,
        );
      }
      return data;
    };
    await write('inblob', req.inblob);
    if (req.privlevel !== undefined) await write('privlevel', String(req.privlevel));
    // Providers without certificate support have no auxblob: issue without host certificates.
    const auxblob =
      req.readAuxblob === true
        ? await read('auxblob').catch((err: unknown) => {
            if (errorCode((err as { cause?: unknown }).cause) === 'ENOENT') return Buffer.alloc(0);
            throw err;
          })
        : Buffer.alloc(0);
    const outblob = await read('outblob');
    const provider = await readProvider(entry);
    return { provider, outblob, auxblob };
  });
}
