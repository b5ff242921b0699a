/**
 * Test harness for the emulated TEE devices. Stable API used by the tee, attestation, initializer and
 * demo tests:
 *
 *   const emu = await mountEmulators({ measurement, hostData, mrConfigId, mrTd, reportVersion });
 *   t.teardown(() => emu.unmount());
 *
 * mountEmulators builds test/emulators (make, output in test/emulators/build/, gitignored), makes or
 * reuses the test keys (keys.ts), and mounts one FUSE file system under a fresh temporary directory
 * (name contains the pid). It needs root: the emulator reads and writes the caller's memory for the
 * pointers inside SNP requests.
 *
 *   snpDevice   <mnt>/dev/sev-guest   SNP_GET_REPORT / SNP_GET_EXT_REPORT (lib/native/tee.ts)
 *   tdxDevice   <mnt>/dev/tdx_guest   TDX_CMD_GET_REPORT0
 *   tsmSnpDir   <mnt>/tsm-snp/report  configfs-tsm "report" dir, provider sev_guest: mkdir an entry,
 *                                     write inblob (64 bytes), read outblob (1184-byte report), auxblob
 *                                     (certificate table), provider, generation; privlevel(_floor)
 *   tsmTdxDir   <mnt>/tsm-tdx/report  same with provider tdx_guest: outblob is a DCAP v4 quote signed by
 *                                     the attestation key, QE report signed by the PCK key
 *
 * configfs semantics: inblob takes at most 64 bytes (EFBIG beyond) and counts as one write when the file
 * is closed; privlevel (0..3) counts at write; `generation` is the write counter; outblob/auxblob are
 * regenerated together when the generation changed, else served from the cache; reading them without
 * a 64-byte inblob fails with EINVAL. Entries are private per mkdir; rmdir removes them.
 *
 * Reports: version `reportVersion` (default 3), policy 0x30000, VMPL as requested, the caller's report
 * data, `measurement`, `hostData`, chip ID and TCB of TEST_PLATFORM (matching the VCEK's extensions),
 * signed by the test VCEK. TDREPORTs and quotes carry `mrTd`, `mrConfigId` and the caller's report data.
 *
 * Faults (setFault): 'firmware' -> SNP ioctl succeeds with MSG_REPORT_RSP.status 0x16; TDX ioctl EIO;
 * configfs outblob read EINVAL. 'busy' -> SNP ETIMEDOUT with VMM error 2; TDX EBUSY; configfs EBUSY.
 * 'eio' -> SNP EIO with firmware error 0x13; TDX EIO; configfs EIO. 'certs-quirk' (SNP only) -> the
 * too-small certificate answer returns 0 instead of EIO, like early-2023 kernels.
 *
 * Options: `hostCerts: false` emulates a host without certificates (empty table / auxblob). `keyDir`
 * holds all test keys, private ones included, for tests that need to forge or re-sign evidence.
 *
 * unmount() is idempotent; a process 'exit' hook unmounts anything left over, and the emulator
 * unmounts itself when its parent dies.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmdirSync } from 'node:fs';
import { mkdtemp, readFile, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ATTESTATION_DEFAULTS, type AttestationConfig } from '../../lib/attestation/config.js';
import { ensureTestKeys, tcbBytes, TEST_PLATFORM } from './keys.js';

export { TEST_PLATFORM, tcbBytes } from './keys.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BUILD = join(HERE, 'build');
const BINARY = join(BUILD, 'contrast-tee-emu');
const run = promisify(execFile);

export interface EmulatorOptions {
  measurement?: Buffer; // 48 bytes
  hostData?: Buffer; // 32 bytes
  mrConfigId?: Buffer; // 48 bytes
  mrTd?: Buffer; // 48 bytes
  reportVersion?: number; // 2..5
  /** false: the host supplies no certificates (extended report and auxblob empty, like many clouds). Default true. */
  hostCerts?: boolean;
}

export type EmulatedDevice = 'snp' | 'tdx' | 'tsm';
export type EmulatorFault = 'none' | 'firmware' | 'busy' | 'eio' | 'certs-quirk';

export interface EmulatorKeys {
  vcekDer: Buffer;
  vcekPem: string;
  askPem: string;
  arkPem: string;
  /** The certificate table the SNP device returns (VCEK, ASK, ARK). */
  certTable: Buffer;
  tdxRootPem: string;
  /** PCK leaf, PCK Platform CA, root (PEM, in that order). */
  pckChainPem: string;
  /** Public key (SPKI PEM) of the P-256 attestation key that signs TDX quotes. */
  attestationKeyPem: string;
}

export interface Emulators {
  mountpoint: string;
  /** Directory with the test keys and certificates (private keys included: *.key, PEM). */
  keyDir: string;
  snpDevice: string;
  tdxDevice: string;
  tsmSnpDir: string;
  tsmTdxDir: string;
  keys: EmulatorKeys;
  /** The effective configuration (defaults filled in). */
  config: Required<EmulatorOptions>;
  setFault(device: EmulatedDevice, fault: EmulatorFault): Promise<void>;
  /** Counters: snp_report, snp_ext_report, snp_ext_too_small, tdx_report, tsm_generate. */
  stats(): Promise<Record<string, number>>;
  unmount(): Promise<void>;
}

const digest = (alg: string, s: string): Buffer => createHash(alg).update(s).digest();

export const EMULATOR_DEFAULTS: Readonly<Required<EmulatorOptions>> = Object.freeze({
  measurement: digest('sha384', 'contrast test measurement'),
  hostData: digest('sha256', 'contrast test host data'),
  mrConfigId: digest('sha384', 'contrast test mrconfigid'),
  mrTd: digest('sha384', 'contrast test mrtd'),
  reportVersion: 3,
  hostCerts: true,
});

function checkOptions(opts: EmulatorOptions): Required<EmulatorOptions> {
  const c = { ...EMULATOR_DEFAULTS, ...opts };
  const sizes = { measurement: 48, hostData: 32, mrConfigId: 48, mrTd: 48 } as const;
  for (const [name, size] of Object.entries(sizes)) {
    const v = c[name as keyof typeof sizes];
    if (v.length !== size) throw new TypeError(`EmulatorOptions.${name} of ${v.length} bytes: expected ${size}`);
  }
  if (!Number.isInteger(c.reportVersion) || c.reportVersion < 2 || c.reportVersion > 5) {
    throw new TypeError(`EmulatorOptions.reportVersion ${c.reportVersion}: expected 2..5`);
  }
  return c;
}

/** Builds the emulator (make is a no-op when up to date; parallel builds are safe). */
export async function buildEmulators(): Promise<string> {
  await run('make', ['-s', '-C', HERE], { maxBuffer: 1 << 22 });
  return BINARY;
}

async function loadKeys(dir: string): Promise<EmulatorKeys> {
  const text = (f: string): Promise<string> => readFile(join(dir, f), 'utf8');
  return {
    vcekDer: await readFile(join(dir, 'vcek.der')),
    vcekPem: await text('vcek.pem'),
    askPem: await text('ask.pem'),
    arkPem: await text('ark.pem'),
    certTable: await readFile(join(dir, 'certs.bin')),
    tdxRootPem: await text('tdx-root.pem'),
    pckChainPem: await text('pck-chain.pem'),
    attestationKeyPem: await text('attestation.pub.pem'),
  };
}

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      reject(new Error(`contrast-tee-emu exited (${code ?? signal}) before mounting: ${err.trim()}`));
    });
  });
}

/**
 * Mounts still to be removed when the process exits. Process-wide on purpose: the exit of the process
 * is process-wide, and one listener (instead of one per mount) keeps Node's listener limit quiet.
 */
const pendingUnmounts = new Set<() => void>();
function onProcessExit(): void {
  for (const cleanup of pendingUnmounts) cleanup();
}
function atExit(cleanup: () => void): () => void {
  if (pendingUnmounts.size === 0) process.on('exit', onProcessExit);
  pendingUnmounts.add(cleanup);
  return () => {
    pendingUnmounts.delete(cleanup);
    if (pendingUnmounts.size === 0) process.off('exit', onProcessExit);
  };
}

function unmountSync(mountpoint: string): void {
  try {
    execFileSync('fusermount3', ['-u', '-z', mountpoint], { stdio: 'ignore' });
  } catch {
    // not mounted (any more)
  }
  try {
    rmdirSync(mountpoint);
  } catch {
    // already removed by the emulator
  }
}

export async function mountEmulators(opts: EmulatorOptions = {}): Promise<Emulators> {
  const config = checkOptions(opts);
  const [binary, keyDir] = await Promise.all([buildEmulators(), ensureTestKeys(BUILD)]);
  const keys = await loadKeys(keyDir);
  const mountpoint = await mkdtemp(join(tmpdir(), `contrast-tee-emu-${process.pid}-`));
  const args = [
    '--keys',
    keyDir,
    '--measurement',
    config.measurement.toString('hex'),
    '--host-data',
    config.hostData.toString('hex'),
    '--mr-config-id',
    config.mrConfigId.toString('hex'),
    '--mr-td',
    config.mrTd.toString('hex'),
    '--chip-id',
    TEST_PLATFORM.chipId.toString('hex'),
    '--tcb',
    tcbBytes().toString('hex'),
    '--report-version',
    String(config.reportVersion),
    '--rmdir-on-exit',
    ...(config.hostCerts ? [] : ['--no-host-certs']),
    mountpoint,
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const onExit = (): void => {
    unmountSync(mountpoint);
    child.kill('SIGKILL');
  };
  const cancelAtExit = atExit(onExit);
  try {
    await waitReady(child);
  } catch (err) {
    cancelAtExit();
    onExit();
    await rmdir(mountpoint).catch(() => undefined);
    throw err;
  }
  // The emulator must not keep a test process alive; the exit hook cleans up.
  child.unref();
  for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();

  let unmounted: Promise<void> | undefined;
  const unmount = (): Promise<void> => {
    unmounted ??= (async () => {
      cancelAtExit();
      const exited =
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((resolve) =>
              child.once('exit', () => {
                resolve();
              }),
            );
      unmountSync(mountpoint);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      await rmdir(mountpoint).catch(() => undefined);
    })();
    return unmounted;
  };

  return {
    mountpoint,
    keyDir,
    snpDevice: join(mountpoint, 'dev', 'sev-guest'),
    tdxDevice: join(mountpoint, 'dev', 'tdx_guest'),
    tsmSnpDir: join(mountpoint, 'tsm-snp', 'report'),
    tsmTdxDir: join(mountpoint, 'tsm-tdx', 'report'),
    keys,
    config,
    setFault: (device, fault) => writeFile(join(mountpoint, 'control', `${device}-fault`), fault),
    stats: async () => {
      const text = await readFile(join(mountpoint, 'control', 'stats'), 'utf8');
      return Object.fromEntries(
        text
          .trim()
          .split('\n')
          .map((l) => {
            const [k = '', v = '0'] = l.split(' ');
            return [k, Number(v)];
          }),
      );
    },
    unmount,
  };
}

/**
 * An attestation configuration whose device paths all point at absent files under the emulators' mount
 * (so nothing is found unless `over` names a device), no insecure documents, no KDS wait.
 */
export function emulatorAttestationConfig(emu: Emulators, over: Partial<AttestationConfig>): AttestationConfig {
  return {
    mode: 'auto',
    snpDevice: `${emu.mountpoint}/absent-sev-guest`,
    tdxDevice: `${emu.mountpoint}/absent-tdx_guest`,
    tsmReportDir: `${emu.mountpoint}/absent-tsm`,
    allowInsecure: false,
    kernelCmdlinePath: `${emu.mountpoint}/absent-cmdline`,
    cpuinfoPath: `${emu.mountpoint}/absent-cpuinfo`,
    kdsBaseUrl: ATTESTATION_DEFAULTS.kdsBaseUrl,
    kdsTimeoutMs: 0,
    ...over,
  };
}
