/**
 * The audit log of the posture integration, in the words of Tailscale's audit log: target
 * Integration with "Create posture integration", "Update posture integration", "Removed
 * posture integration"; target Node with "Update node attribute", one event per attribute
 * that changed, old → new (null when unset).
 */
import type { AttributeValue } from './rules';

export const AUDIT_ACTIONS = {
  create: 'Create posture integration',
  update: 'Update posture integration',
  remove: 'Removed posture integration',
  nodeAttribute: 'Update node attribute',
} as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[keyof typeof AUDIT_ACTIONS];

export interface IntegrationAuditEvent {
  at: number;
  target: 'Integration';
  action: typeof AUDIT_ACTIONS.create | typeof AUDIT_ACTIONS.update | typeof AUDIT_ACTIONS.remove;
  /** Who did it (the admin configuring the integration). */
  actor: string;
  integration: 'kandji';
  /** For an update: which settings changed (`apiUrl`, `token`, `ca`); a token is never logged. */
  changed?: string[];
  summary: string;
}

export interface NodeAuditEvent {
  at: number;
  target: 'Node';
  action: typeof AUDIT_ACTIONS.nodeAttribute;
  /** The integration writes node attributes, not a person. */
  actor: 'kandji posture integration';
  nodeId: string;
  nodeName: string;
  attribute: string;
  /** null: the attribute was not set. */
  old: AttributeValue | null;
  /** null: the attribute was removed. */
  new: AttributeValue | null;
  summary: string;
}

export type AuditEvent = IntegrationAuditEvent | NodeAuditEvent;

const show = (v: AttributeValue | null) => (v === null ? '(unset)' : typeof v === 'string' ? `'${v}'` : String(v));

export function nodeAttributeEvent(at: number, node: { id: string; name: string }, attribute: string, old: AttributeValue | null, next: AttributeValue | null): NodeAuditEvent {
  return {
    at,
    target: 'Node',
    action: AUDIT_ACTIONS.nodeAttribute,
    actor: 'kandji posture integration',
    nodeId: node.id,
    nodeName: node.name,
    attribute,
    old,
    new: next,
    summary: `${AUDIT_ACTIONS.nodeAttribute} ${node.name}: ${attribute} ${show(old)} → ${show(next)}`,
  };
}

export function integrationEvent(at: number, action: IntegrationAuditEvent['action'], actor: string, changed?: string[]): IntegrationAuditEvent {
  const what = changed && changed.length > 0 ? ` (${changed.join(', ')})` : '';
  return { at, target: 'Integration', action, actor, integration: 'kandji', ...(changed ? { changed } : {}), summary: `${action}: kandji${what}` };
}
