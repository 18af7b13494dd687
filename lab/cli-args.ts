/**
 * What several mdmsim commands share: the `network` parent command, and the parsers of the
 * arguments they have in common (ports, curl-style --resolve). One place, so each flag is checked
 * and explained the same way wherever it appears.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { parseResolveFlag, ResolveError, Resolver } from '../agent-sim/network/resolver';

/** One --resolve entry, as parseResolveFlag returns it. */
export interface ResolveEntry {
  pattern: string;
  address: string;
}

/** The `network` command, shared by its subcommands (whichever registers first makes it). */
export function networkCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'network') ??
    program.command('network').description("the network lab: what a Mac's network must allow, and what the MDM host negotiates")
  );
}

function portFrom(value: string, min: 0 | 1, expected: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > 65535) throw new InvalidArgumentError(expected);
  return n;
}

/** A port to listen on: 0 asks the system for a free one. */
export function listenPort(value: string): number {
  return portFrom(value, 0, 'expected a port number from 0 to 65535 (0 picks a free port)');
}

/** A port to connect to, or that a name is served on. */
export function tcpPort(value: string): number {
  return portFrom(value, 1, 'expected a port number from 1 to 65535');
}

/**
 * Commander's parser for a repeatable `--resolve HOST:ADDRESS`. Commander already names the
 * option and the value, so the reason is given without parseResolveFlag's own `--resolve …:` lead.
 */
export function resolveEntry(value: string, previous: ResolveEntry[]): ResolveEntry[] {
  try {
    return [...previous, parseResolveFlag(value, RESOLVE_FIELD)];
  } catch (error) {
    if (!(error instanceof ResolveError)) throw error;
    throw new InvalidArgumentError(withoutLead(error.message, value));
  }
}

const RESOLVE_FIELD = '--resolve';

/** The message after the `--resolve: ` or `--resolve "VALUE": ` the resolver puts first. */
function withoutLead(message: string, value: string): string {
  for (const lead of [`${RESOLVE_FIELD}: `, `${RESOLVE_FIELD} ${JSON.stringify(value)}: `]) {
    if (message.startsWith(lead)) return message.slice(lead.length);
  }
  return message;
}

/** A resolver holding the --resolve entries. */
export function resolverOf(entries: readonly ResolveEntry[]): Resolver {
  const resolver = new Resolver();
  for (const e of entries) resolver.add(e.pattern, e.address);
  return resolver;
}
