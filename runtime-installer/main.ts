#!/usr/bin/env node
/**
 * contrast-runtime-installer <Platform>            install the runtime (image entry point /bin/node-installer)
 * contrast-runtime-installer uninstall <Platform>  remove it again
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { createLogger, logConfigFromEnv, type Logger } from '../lib/log.js';
import { runMain } from '../lib/main.js';
import { parseInstallerConfig } from './config.js';
import { install } from './install.js';
import { uninstall } from './uninstall.js';
import { SystemdDBus } from './systemd.js';

function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next candidate
    }
  }
  return 'unknown';
}

function main(): void {
  let log: Logger | undefined;
  runMain(async () => {
    let action: { kind: 'install' | 'uninstall'; platform: string | undefined; handler?: string } | undefined;
    const program = new Command('contrast-runtime-installer')
      .description('Installs the Contrast Kata runtime on this node (drop-in for node-installer).')
      .version(version())
      .argument('[platform]', 'Metal-QEMU-SNP, Metal-QEMU-SNP-GPU, Metal-QEMU-TDX, Metal-QEMU-TDX-GPU, K3s-QEMU-SNP, K3s-QEMU-SNP-GPU, K3s-QEMU-TDX, RKE2-QEMU-TDX, AKS-CLH-SNP')
      .action((platform: string | undefined) => { action = { kind: 'install', platform }; });
    program.command('uninstall')
      .argument('[platform]', 'the platform the runtime was installed for')
      .option('--handler <name>', 'the runtime handler to remove (default: from the install receipt)')
      .description('Removes what the install receipt lists: config edits, files, directories')
      .action((platform: string | undefined, opts: { handler?: string }) => { action = { kind: 'uninstall', platform, ...(opts.handler === undefined ? {} : { handler: opts.handler }) }; });
    await program.parseAsync(process.argv);
    if (action === undefined) return 0;
    log = createLogger(logConfigFromEnv(process.env), { base: { program: 'runtime-installer' } });
    log.info({ version: version() }, `Contrast runtime-installer ${version()}`);
    const cfg = parseInstallerConfig(action.platform, process.env);
    const deps = { log, serviceManager: (address: string) => SystemdDBus.connect(address) };
    if (action.kind === 'install') await install(cfg, deps);
    else await uninstall(cfg, deps, action.handler === undefined ? {} : { handler: action.handler });
    return 0;
  }, () => log);
}

main();
