#!/usr/bin/env node
/**
 * contrast-runtime-installer <Platform>            install the runtime (image entry point /bin/node-installer)
 * contrast-runtime-installer uninstall <Platform>  remove it again
 */
import { parseProgramArgs, programCommand } from '../lib/cli.js';
import { createLogger, logConfigFromEnv, type Logger } from '../lib/log.js';
import { runMain } from '../lib/main.js';
import { parseInstallerConfig } from './config.js';
import { install } from './install.js';
import { uninstall } from './uninstall.js';
import { INSTALLER_ENVIRONMENT } from './environment.js';
import { PLATFORMS } from './platforms.js';
import { SystemdDBus } from './systemd.js';
import { VERSION } from '../lib/version.js';

function main(): void {
  let log: Logger | undefined;
  runMain(
    async () => {
      let action: { kind: 'install' | 'uninstall'; platform: string; handler?: string } | undefined;
      const platforms = PLATFORMS.map((p) => p.name).join(', ');
      const program = programCommand({
        name: 'contrast-runtime-installer',
        title: 'runtime-installer',
        description: 'Installs the Contrast Kata runtime on this node (drop-in for node-installer).',
        environment: INSTALLER_ENVIRONMENT,
      })
        .argument('<platform>', platforms)
        .action((platform: string) => {
          action = { kind: 'install', platform };
        });
      program
        .command('uninstall')
        .argument('<platform>', 'the platform the runtime was installed for')
        .option('--handler <name>', 'the runtime handler to remove (default: from the install receipt)')
        .description('Removes what the install receipt lists: config edits, files, directories')
        .action((platform: string, opts: { handler?: string }) => {
          action = { kind: 'uninstall', platform, ...(opts.handler === undefined ? {} : { handler: opts.handler }) };
        });
      if (await parseProgramArgs(program, process.argv.slice(2))) return 0;
      if (action === undefined) return 0;
      log = createLogger(logConfigFromEnv(process.env), { base: { program: 'runtime-installer' } });
      log.info({ version: VERSION }, `Contrast runtime-installer ${VERSION}`);
      const cfg = parseInstallerConfig(action.platform, process.env);
      const deps = { log, serviceManager: (address: string) => SystemdDBus.connect(address) };
      if (action.kind === 'install') await install(cfg, deps);
      else await uninstall(cfg, deps, action.handler === undefined ? {} : { handler: action.handler });
      return 0;
    },
    () => log,
  );
}

main();
