#!/usr/bin/env node
/**
 * contrast-runtime-installer <Platform>            install the runtime (image entry point /bin/node-installer)
 * contrast-runtime-installer uninstall <Platform>  remove it again
 */
import { Command } from 'commander';
import { createLogger, logConfigFromEnv, type Logger } from '../lib/log.js';
import { runMain } from '../lib/main.js';
import { parseInstallerConfig } from './config.js';
import { install } from './install.js';
import { uninstall } from './uninstall.js';
import { SystemdDBus } from './systemd.js';
import { VERSION } from '../lib/version.js';

function main(): void {
  let log: Logger | undefined;
  runMain(async () => {
    let action: { kind: 'install' | 'uninstall'; platform: string | undefined } | undefined;
    const program = new Command('contrast-runtime-installer')
      .description('Installs the Contrast Kata runtime on this node (drop-in for node-installer).')
      .version(VERSION)
      .argument('[platform]', 'Metal-QEMU-SNP, Metal-QEMU-SNP-GPU, Metal-QEMU-TDX, Metal-QEMU-TDX-GPU, K3s-QEMU-SNP, K3s-QEMU-SNP-GPU, K3s-QEMU-TDX, RKE2-QEMU-TDX, AKS-CLH-SNP')
      .action((platform: string | undefined) => { action = { kind: 'install', platform }; });
    program.command('uninstall')
      .argument('[platform]', 'the platform the runtime was installed for')
      .description('Removes the runtime entry from the containerd config and the runtime directory')
      .action((platform: string | undefined) => { action = { kind: 'uninstall', platform }; });
    await program.parseAsync(process.argv);
    if (action === undefined) return 0;
    log = createLogger(logConfigFromEnv(process.env), { base: { program: 'runtime-installer' } });
    log.info({ version: VERSION }, `Contrast runtime-installer ${VERSION}`);
    const cfg = parseInstallerConfig(action.platform, process.env);
    const deps = { log, serviceManager: (address: string) => SystemdDBus.connect(address) };
    if (action.kind === 'install') await install(cfg, deps);
    else await uninstall(cfg, deps);
    return 0;
  }, () => log);
}

main();
