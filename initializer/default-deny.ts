/**
 * CONTRAST_SERVICE_MESH_DISABLED: the pod VM starts with a default-deny inbound rule that the service
 * mesh proxy removes once it listens. Without a mesh, the initializer removes it, for IPv4 and IPv6:
 * in filter/INPUT, `-m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP`, every copy, if present.
 *
 * Kept behind a small interface until the shared removal module (lib/netfilter/) exists.
 */
import { execFile } from 'node:child_process';
import { DefaultDenyError } from './errors.js';

export interface DefaultDenyRemover {
  /** Removes the rule where present; returns the families it was removed from. */
  remove(): Promise<string[]>;
}

export interface CommandResult {
  readonly code: number;
  readonly stderr: string;
}

/** Runs a program without a shell; rejects only when it cannot be started. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

export const DEFAULT_DENY_RULE: readonly string[] = Object.freeze(['INPUT', '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP']);

const MAX_COPIES = 64;

export interface IptablesRemoverOptions {
  readonly run?: CommandRunner;
  /** Default: iptables and ip6tables from PATH. */
  readonly programs?: readonly string[];
}

export function iptablesDefaultDenyRemover(options: IptablesRemoverOptions = {}): DefaultDenyRemover {
  const run = options.run ?? runCommand;
  const programs = options.programs ?? ['iptables', 'ip6tables'];
  return {
    async remove() {
      const removedFrom: string[] = [];
      for (const program of programs) {
        if (await removeAll(run, program)) removedFrom.push(program);
      }
      return removedFrom;
    },
  };
}

async function removeAll(run: CommandRunner, program: string): Promise<boolean> {
  let removed = false;
  for (let i = 0; i < MAX_COPIES; i++) {
    const check = await invoke(run, program, ['-w', '-t', 'filter', '-C', ...DEFAULT_DENY_RULE]);
    if (check.code === 1) return removed;
    if (check.code !== 0) throw new DefaultDenyError(`${program} -C ${DEFAULT_DENY_RULE.join(' ')} failed with status ${check.code}: ${check.stderr.trim()} (does the container have NET_ADMIN?)`);
    const del = await invoke(run, program, ['-w', '-t', 'filter', '-D', ...DEFAULT_DENY_RULE]);
    if (del.code !== 0) throw new DefaultDenyError(`${program} -D ${DEFAULT_DENY_RULE.join(' ')} failed with status ${del.code}: ${del.stderr.trim()}`);
    removed = true;
  }
  throw new DefaultDenyError(`${program}: still found the default-deny rule after removing ${MAX_COPIES} copies`);
}

async function invoke(run: CommandRunner, program: string, args: readonly string[]): Promise<CommandResult> {
  try {
    return await run(program, args);
  } catch (err) {
    throw new DefaultDenyError(`cannot run ${program}: ${(err as Error).message}`, { cause: err });
  }
}

export const runCommand: CommandRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err === null) {
        resolve({ code: 0, stderr });
        return;
      }
      const status = (err as { code?: unknown }).code;
      if (typeof status === 'number') resolve({ code: status, stderr });
      else reject(new Error(err.message, { cause: err }));
    });
  });
