/**
 * The environment lists (`<program>/environment.ts`) are the truth that `--help` prints and
 * docs/configuration.md shows: each program's configuration reads only listed variables, each listed
 * default is the one the code applies, and the page's table is the rendering of the lists.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { readAttestationConfig } from '../../lib/attestation/config.js';
import { EnvReader, type Env } from '../../lib/config.js';
import { REQUIRED, UNSET, type EnvVarDoc } from '../../lib/environment.js';
import { parseLogConfig } from '../../lib/log.js';
import { readInitializerConfig } from '../../initializer/config.js';
import { meshConfigFromEnv } from '../../meshproxy/config.js';
import { forwarderConfigFromEnv } from '../../port-forwarder/config.js';
import { parseInstallerConfig } from '../../runtime-installer/config.js';
import { PAGE, PROGRAM_ENVIRONMENTS, renderedPage } from '../helpers/configuration-table.js';

/** Each program's whole environment parse, from a base environment that satisfies its required variables. */
const PARSERS: Record<string, { base: Env; parse: (env: Env) => unknown }> = {
  'contrast-initializer': {
    base: { COORDINATOR_HOST: 'coordinator' },
    parse: (env) => {
      const reader = new EnvReader(env);
      const config = {
        initializer: readInitializerConfig(reader),
        attestation: readAttestationConfig(reader),
        log: parseLogConfig(env),
      };
      reader.finish({});
      return config;
    },
  },
  'contrast-meshproxy': { base: {}, parse: (env) => ({ mesh: meshConfigFromEnv(env), log: parseLogConfig(env) }) },
  'contrast-runtime-installer': {
    base: {},
    parse: (env) => ({ installer: parseInstallerConfig('Metal-QEMU-SNP', env), log: parseLogConfig(env) }),
  },
  'contrast-port-forwarder': {
    base: { FORWARD_HOST: 'svc', LISTEN_PORT: '8080' },
    parse: (env) => ({ forwarder: forwarderConfigFromEnv(env), log: parseLogConfig(env) }),
  },
  'contrast-dev': { base: {}, parse: (env) => parseLogConfig(env) },
};

/** The names a parse looked up in its environment. */
function namesRead(parse: (env: Env) => unknown, base: Env): Set<string> {
  const read = new Set<string>();
  const env = new Proxy(
    { ...base },
    {
      get(target, name) {
        if (typeof name === 'string') read.add(name);
        return (target as Record<string, string | undefined>)[name as string];
      },
    },
  );
  parse(env);
  return read;
}

for (const { program, environment } of PROGRAM_ENVIRONMENTS) {
  const parser = PARSERS[program]!;
  const documented = new Set(environment.map((v: EnvVarDoc) => v.name));

  test(`${program}: every variable its configuration reads is listed`, (t) => {
    const read = namesRead(parser.parse, parser.base);
    t.true(read.size > 2);
    // Legacy names (EDG_*) are named in the meaning of the current one.
    const unlisted = [...read].filter((n) => !documented.has(n) && !environment.some((v) => v.meaning.includes(n)));
    t.deepEqual(unlisted, []);
  });

  test(`${program}: each listed default is the one the code applies`, (t) => {
    const unset = parser.parse(parser.base);
    for (const v of environment) {
      if (v.default === REQUIRED || v.default === UNSET || v.name === 'CONTRAST_NATIVE_ADDON') continue;
      t.deepEqual(parser.parse({ ...parser.base, [v.name]: v.default }), unset, `${v.name}=${v.default}`);
    }
  });
}

test('docs/configuration.md holds the table rendered from the lists', (t) => {
  const page = readFileSync(PAGE, 'utf8');
  t.is(page, renderedPage(page), 'regenerate with: npx tsx test/helpers/configuration-table.ts --write');
  for (const { environment } of PROGRAM_ENVIRONMENTS)
    for (const v of environment) t.true(page.includes(`| \`${v.name}\` |`), v.name);
});
