/**
 * A third-party consumer of the Kandji-compatible API: the posture-sync integration a
 * zero-trust network (Tailscale) runs against Kandji. It meets mdmsim's server only over the
 * wire, as the real one meets Kandji.
 */
export { startPostureSync, PostureSync, type PostureSyncOptions, type PostureSyncStatus, type PostureNodeState, type PostureEvent, type SyncReport, type SyncTrigger, type PostureSyncError } from './integration';
export { parseNodeList, variedSerial, NodeListError, KANDJI_NAMESPACE, type PostureNodeInput } from './nodes';
export { parseRule, parseRules, evaluatePosture, ruleHolds, PostureRuleError, type PostureRule, type PostureDecision, type AttributeValue } from './rules';
export { normalizeSerial, indexBySerial, matchNode, kandjiAttributes, ATTR_MDM_ENABLED, ATTR_AGENT_INSTALLED, KANDJI_ATTRIBUTES } from './match';
export { PrismClient, PrismError, apiOrigin, type PrismDeviceRecord, type PrismErrorKind, type PrismReadResult } from './prism-client';
export { AUDIT_ACTIONS, type AuditEvent, type IntegrationAuditEvent, type NodeAuditEvent, type AuditAction } from './audit';
