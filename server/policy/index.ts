export { AgentPolicy, type ReinstallStateJson, type SweepReport } from './agent-policy';
export { INVENTORY_QUERIES, PolicyCommands } from './commands';
export { agentSilentSince, decideReinstall, isAgentOverdue, lastAttemptAt, SKIP_REASONS, type Decision, type FireReason, type SkipReason } from './decide';
export { InventoryScheduler, type InventoryReport } from './inventory';
export { agentPolicyToJson, DEFAULT_AGENT_POLICY, resolveAgentPolicy, type AgentPolicyOptions, type AgentPolicySettings, type AgentPolicySettingsJson } from './settings';
