/**
 * The sidecar's changes to the system, in the order that keeps the pod closed: check everything, then
 * the interception rules, then the default-deny rule removed, family by family. A failure after the
 * first change puts back what was there before (the mangle table as saved, and the default-deny rule if
 * it existed), so a failed start never leaves a pod half-configured or open.
 */
import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError, describeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { hasDefaultDeny, insertDefaultDeny, removeDefaultDeny } from '../lib/netfilter/default-deny.js';
import type { Iptables } from '../lib/netfilter/iptables.js';
import type { MeshConfig } from './config.js';
import { ingressRuleset, installIngressRules, removeIngressRules } from './rules.js';

export interface Family {
  readonly name: 'IPv4' | 'IPv6';
  /** The variable that chose the binary, named in errors. */
  readonly variable: 'CONTRAST_IPTABLES' | 'CONTRAST_IP6TABLES';
  readonly iptables: Iptables;
  /** False when the host has no IPv6 (no listener could be bound): its rules are best effort. */
  readonly available: boolean;
}

interface Saved {
  readonly family: Family;
  readonly mangle: string;
  readonly hadDeny: boolean;
  changed: boolean;
}

export interface NetfilterChange {
  /** Installs the rules and removes the default-deny rule; on failure rolls back and rethrows. */
  apply(): Promise<void>;
}

/**
 * Checks, without changing anything: each binary runs, the ruleset parses (`-restore --test`), the
 * ready file's directory exists and is writable. Problems naming their variables are a ConfigError.
 */
export async function prepareNetfilter(
  config: MeshConfig,
  families: readonly Family[],
  log: Logger,
): Promise<NetfilterChange> {
  const problems: string[] = [];
  const saved: Saved[] = [];
  for (const family of families) {
    try {
      if (!config.plan.ingress.disabled) await family.iptables.restore(ingressRuleset(config.plan), { test: true });
      const mangle = await family.iptables.save('mangle');
      saved.push({ family, mangle, hadDeny: await hasDefaultDeny(family.iptables), changed: false });
    } catch (err) {
      if (!family.available) {
        log.warn(
          { iptables: family.iptables.binary, family: family.name, err: describeError(err) },
          'IPv6 rules cannot be checked; IPv6 is not available on this host',
        );
        continue;
      }
      problems.push(`${family.variable}=${family.iptables.binary}: ${describeError(err)}`);
    }
  }
  const readyDir = dirname(config.readyFile);
  try {
    if (!(await stat(readyDir)).isDirectory()) throw new Error(`${readyDir} is not a directory`);
    await access(readyDir, constants.W_OK);
  } catch (err) {
    problems.push(
      `CONTRAST_READY_FILE=${config.readyFile}: expected a path in an existing, writable directory: ${describeError(err)}`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    async apply() {
      try {
        for (const s of saved) {
          s.changed = true;
          await applyFamily(s.family, config, log);
        }
      } catch (err) {
        await rollback(saved, log);
        throw err;
      }
    },
  };
}

async function applyFamily(family: Family, config: MeshConfig, log: Logger): Promise<void> {
  const { iptables, name } = family;
  if (!config.plan.ingress.disabled) {
    await installIngressRules(iptables, config.plan);
    log.info({ iptables: iptables.binary, family: name }, 'ingress interception rules installed');
  } else if (await removeIngressRules(iptables)) {
    log.info(
      { iptables: iptables.binary, family: name },
      'ingress DISABLED: removed interception rules of an earlier run',
    );
  }
  await removeDefaultDeny(iptables, log);
}

/** Puts back the saved mangle table and the default-deny rule of every family that was touched. */
async function rollback(saved: readonly Saved[], log: Logger): Promise<void> {
  for (const s of saved) {
    if (!s.changed) continue;
    const { iptables, name } = s.family;
    try {
      await iptables.restore(s.mangle, { flush: true });
      if (s.hadDeny && !(await hasDefaultDeny(iptables))) await insertDefaultDeny(iptables);
      log.warn(
        { iptables: iptables.binary, family: name, defaultDeny: s.hadDeny },
        'start failed: restored the previous rules',
      );
    } catch (err) {
      log.error(
        { iptables: iptables.binary, family: name, err: describeError(err) },
        'start failed and the previous rules could not be restored',
      );
    }
  }
}
