export { AgentService, NEXT_CHECKIN_SECONDS, type AgentCheckinAuth } from './agent-service';
export { AGENT_MAX_BODY_BYTES, createAgentHandler, isAgentPath } from './handler';
export { AgentArtifacts, agentPackageBytes, DEFAULT_AGENT_CHUNK_BYTES, DEFAULT_AGENT_PACKAGE_BYTES, type AgentPackageOptions } from './package';
export { AGENT_SESSION_TTL_MS, AgentSessions, type AgentSessionClaim } from './session';
