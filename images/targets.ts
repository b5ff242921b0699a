/**
 * What each image holds. One place for the Dockerfile's runtime stages and images/build.ts alike:
 * entry points, environment, and the host tools beside Node that a program runs (iptables for the
 * mesh and the initializer's default-deny removal) or that upstream's pod specs run in the image
 * (images/upstream-commands.ts: `sh`, `sleep`, `test`; bash and socat). The runtime installer
 * talks to systemd over D-Bus itself and needs no tool.
 */
import { bundleEntry, programByName, type ProgramName } from '../lib/programs.js';
import type { OwnBinaryName } from './own-binaries.js';

export type TargetName = 'initializer' | 'meshproxy' | 'runtime-installer' | 'port-forwarder';

export interface ImageTarget {
  readonly name: TargetName;
  readonly program: ProgramName;
  /** Launchers written into /usr/bin (reachable as /bin/<name>); the first is the image Entrypoint. */
  readonly launchers: readonly string[];
  /** Default arguments after the entry point. */
  readonly cmd: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Host executables copied to the same path with their shared libraries. */
  readonly tools: readonly string[];
  /** Host directories of dlopen()ed plugins, copied with their libraries. */
  readonly pluginDirs: readonly string[];
  /** Plain host files (configuration tables), copied as they are. */
  readonly hostFiles: readonly string[];
  /** Aliases inside the image: path -> link target. */
  readonly links: Readonly<Record<string, string>>;
  /** Our own executables (images/own-binaries.ts): in-image path -> binary (mode 0755). */
  readonly ownBinaries: Readonly<Record<string, OwnBinaryName>>;
  /** Extra text files: path -> content (mode 0644). */
  readonly files: Readonly<Record<string, string>>;
}

/** In-image location of the bundle directories (`/usr/lib/contrast/<program>/`: entry, code, the addon). */
export const BUNDLE_DIR = '/usr/lib/contrast';
/** In-image path of the Node binary; the launchers' `#!` line names it. */
export const NODE_PATH = '/usr/bin/node';
/** In-image path of the Node binary's licence text (Node.js and everything it bundles). */
export const NODE_LICENSE_PATH = '/usr/share/doc/node/LICENSE';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** iptables, legacy and nft, with upstream's default (legacy) under the plain names. */
const IPTABLES = {
  tools: ['/usr/sbin/xtables-legacy-multi', '/usr/sbin/xtables-nft-multi'],
  pluginDirs: ['/usr/lib/x86_64-linux-gnu/xtables'],
  hostFiles: ['/etc/protocols'],
  links: Object.fromEntries([
    ...['iptables', 'ip6tables'].flatMap((t) =>
      ['', '-save', '-restore'].flatMap((s) => [
        [`/usr/sbin/${t}-legacy${s}`, 'xtables-legacy-multi'],
        [`/usr/sbin/${t}-nft${s}`, 'xtables-nft-multi'],
        [`/usr/sbin/${t}${s}`, `${t}-legacy${s}`],
      ]),
    ),
  ]) as Record<string, string>,
};

/** secure-pv: Debian's cryptsetup-bin and e2fsprogs, util-linux's mount (the probe's test is busybox's). */
const SECURE_PV = {
  tools: ['/usr/sbin/cryptsetup', '/usr/sbin/mke2fs', '/usr/bin/mount', '/usr/bin/umount'],
  hostFiles: ['/etc/mke2fs.conf'],
  links: { '/usr/sbin/mkfs.ext4': 'mke2fs' } as Record<string, string>,
};

/**
 * busybox-static (Debian `busybox-static`, no shared libraries) with only the applets upstream's
 * commands use: `/bin/test -f /done`, `test -f /ready`; in the meshproxy also `sh` and `sleep`.
 */
const BUSYBOX = {
  tools: ['/usr/bin/busybox'],
  links: { '/usr/bin/sh': 'busybox', '/usr/bin/sleep': 'busybox', '/usr/bin/test': 'busybox' } as Record<
    string,
    string
  >,
};

/**
 * The image-store holder, `/bin/sh -c "sleep inf"`, as a holder that stops on SIGTERM: the shell
 * execs `sleep`, which is then the container's PID 1, and only a sleep that waits for the signal
 * (native/sleep, ours) ends on it. The shell is Debian's bash: busybox-static's ash runs its own
 * `sleep` applet whatever PATH holds (built with FEATURE_SH_STANDALONE and PREFER_APPLETS), and
 * dash forks the command instead of exec'ing it, so SIGTERM would reach the shell as PID 1 and be
 * dropped there. bash execs the one command of `-c`.
 */
const HOLDER = {
  tools: ['/usr/bin/bash', '/usr/bin/busybox'],
  links: { '/usr/bin/sh': 'bash', '/usr/bin/test': 'busybox' } as Record<string, string>,
  ownBinaries: { '/usr/bin/sleep': 'sleep' } as Record<string, OwnBinaryName>,
};

/** Upstream's port-forwarder pods run `/bin/bash -c "... socat ..."` (Debian `bash`, `socat`). */
const SOCAT = { tools: ['/usr/bin/bash', '/usr/bin/socat'] };

export const TARGETS: readonly ImageTarget[] = Object.freeze([
  {
    name: 'initializer',
    program: 'initializer',
    launchers: ['initializer'],
    cmd: [],
    env: { PATH, XTABLES_LOCKFILE: '/dev/shm/xtables.lock' },
    // iptables/ip6tables remove the default-deny rule (CONTRAST_SERVICE_MESH_DISABLED); secure-pv
    // (CRYPTSETUP_DEVICE) runs cryptsetup, mkfs.ext4, mount and umount; bash, our sleep and busybox's
    // test for upstream's commands.
    tools: [...IPTABLES.tools, ...SECURE_PV.tools, ...HOLDER.tools],
    pluginDirs: IPTABLES.pluginDirs,
    hostFiles: [...IPTABLES.hostFiles, ...SECURE_PV.hostFiles],
    links: { ...IPTABLES.links, ...SECURE_PV.links, ...HOLDER.links },
    ownBinaries: HOLDER.ownBinaries,
    files: {},
  },
  {
    name: 'meshproxy',
    program: 'meshproxy',
    // `service-mesh` is the upstream image's entry point; the generated pod spec passes `-l debug`.
    launchers: ['service-mesh', 'meshproxy'],
    cmd: [],
    env: { PATH, XTABLES_LOCKFILE: '/dev/shm/xtables.lock' },
    tools: [...IPTABLES.tools, ...BUSYBOX.tools],
    pluginDirs: IPTABLES.pluginDirs,
    hostFiles: IPTABLES.hostFiles,
    links: { ...IPTABLES.links, ...BUSYBOX.links },
    ownBinaries: {},
    files: {},
  },
  {
    name: 'runtime-installer',
    program: 'runtime-installer',
    launchers: ['node-installer', 'runtime-installer'],
    cmd: [],
    env: { PATH: '/bin:/usr/bin', CONFIG_DIR: '/config', HOST_MOUNT: '/host' },
    tools: [],
    pluginDirs: [],
    hostFiles: [],
    links: {},
    ownBinaries: {},
    files: {},
  },
  {
    name: 'port-forwarder',
    program: 'port-forwarder',
    // The entry point stays our relay; upstream's generated pods override the command with bash + socat.
    launchers: ['port-forwarder'],
    cmd: [],
    env: { PATH },
    tools: [...SOCAT.tools],
    pluginDirs: [],
    hostFiles: [],
    links: {},
    ownBinaries: {},
    files: {},
  },
]);

export function targetByName(name: string): ImageTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}

/**
 * The launcher script: Node loads the bundle's entry (a CommonJS loader is required, an ES module
 * imported); argv, environment and exit code pass through.
 */
export function launcherScript(program: ProgramName): string {
  const p = programByName(program);
  if (p === undefined) throw new Error(`launcherScript: ${program} is not in lib/programs.ts`);
  const entry = `${BUNDLE_DIR}/${program}/${bundleEntry(p)}`;
  const load = p.layout === 'cjs-code-cache' ? `require('${entry}');` : `import('${entry}');`;
  return `#!${NODE_PATH}\n// Contrast ${program}: the program is the bundle in ${BUNDLE_DIR}/${program}/ (entry, code, addon).\n${load}\n`;
}
