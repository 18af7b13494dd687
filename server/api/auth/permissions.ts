/**
 * What a token may do: a list of Kandji's per-endpoint permissions, or `*` for all of them
 * (the ready-line token). Parsing answers errors a user can act on: the unknown names and the
 * valid ones.
 */
import { ALL_PERMISSIONS, KANDJI_PERMISSIONS, type KandjiPermission } from '../../../protocol/kandji';

export type TokenPermissions = typeof ALL_PERMISSIONS | readonly KandjiPermission[];

const KNOWN = new Set<string>(KANDJI_PERMISSIONS);

export class PermissionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermissionError';
  }
}

export function isKandjiPermission(name: string): name is KandjiPermission {
  return KNOWN.has(name);
}

/**
 * `"*"`, `"devices:list,prism:device_information"` or an array of names → permissions, in
 * Kandji's order, without duplicates. Throws PermissionError naming every unknown name.
 */
export function parsePermissions(input: string | readonly string[]): TokenPermissions {
  const names = (typeof input === 'string' ? input.split(',') : [...input]).map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) {
    throw new PermissionError(`a token needs at least one permission: "${ALL_PERMISSIONS}" for all, or some of ${KANDJI_PERMISSIONS.join(', ')}`);
  }
  if (names.includes(ALL_PERMISSIONS)) {
    if (names.length > 1) throw new PermissionError(`"${ALL_PERMISSIONS}" already grants every permission: give it alone`);
    return ALL_PERMISSIONS;
  }
  const unknown = names.filter((n) => !KNOWN.has(n));
  if (unknown.length > 0) {
    throw new PermissionError(
      `unknown permission${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; valid: ${KANDJI_PERMISSIONS.join(', ')} (or "${ALL_PERMISSIONS}" for all)`,
    );
  }
  const wanted = new Set(names);
  return KANDJI_PERMISSIONS.filter((p) => wanted.has(p));
}

export function grants(permissions: TokenPermissions, permission: KandjiPermission): boolean {
  return permissions === ALL_PERMISSIONS || permissions.includes(permission);
}
