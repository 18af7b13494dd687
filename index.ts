/**
 * mdmsim's programmatic API: start a server in-process, drive its clock, read its events.
 * Protocol pieces (plist codec, message types, command builders, the schema validator, the
 * device side of enrollment and Mdm-Signature) are exported for suites that speak MDM themselves.
 */
export { startServer, MdmsimServer, AUTH_MODES, type AuthMode, type ServerOptions, type ServerInfo } from './server/server';
export type { IdentityKeyType, PushCert } from './server/pki';
export { MemoryStorage } from './server/storage/memory';
export type { Storage, EnrollmentRecord, EventRecord, StoredCommand, ResultRecord } from './server/storage/types';
export { eventToJson, type EventJson } from './server/service/event-log';
export { VirtualClock, RealClock, createClock, type Clock, type TimerHandle } from './protocol/clock';
export { parseDuration, formatDuration } from './protocol/duration';
export { parsePlist, buildPlist, buildPlistBuffer, PlistError, type PlistValue, type PlistDict } from './protocol/plist';
export { commands, buildCommand, decodeCommand, encodeCommand, type Command, type CommandPayloads } from './protocol/command';
export * from './protocol/checkin';
export * from './protocol/result';
export { ProblemError, type Problem } from './protocol/problem';
export * as schema from './protocol/schema';
export { openEnrollmentProfile, EnrollmentProfileError, type OpenedEnrollmentProfile, type MdmPayload } from './protocol/enrollment-profile';
export { createMdmSigner, parseSignedData, verifySignature, signAttached, CmsError, type MdmSigner, type SignerIdentity } from './protocol/cms';
export { buildPkcs12, openPkcs12, Pkcs12Error } from './protocol/pkcs12';
export type { DeviceFaultHandler, FleetNetworkHandler, FleetNetworkJson, AgentPolicyOptions, AgentPolicySettings, SweepReport } from './server/server';
export { startLab, Lab, DEFAULT_LAB_START, type LabOptions, type LabPostureOptions } from './lab/lab';
export { playScenario, type Scenario, type ScenarioReport, type ScenarioContext, type ScenarioStep, type Expectation } from './lab/scenario';
export { SCENARIOS, agentReinstall, agentPosture, resolveScenario } from './lab/scenarios';
export { loadScenarioFile, parseScenario, ScenarioFileError, type FileScenario, type ScenarioExplanation } from './lab/scenario-file';
export { eventsToMermaid, type MermaidOptions } from './server/service/mermaid';
export { formatTimeline, formatEvent } from './lab/timeline';
export { Fleet, SimulatedMac, macIdentity, type FleetOptions, type MacEvent } from './agent-sim';
export type { MacState, MacIdentity, InstalledApp, AgentState } from './agent-sim/state';
export { Resolver, parseResolveFlag, type ResolveOption, type ResolveMap, type ResolveFunction } from './agent-sim/network/resolver';
export type { NetworkPolicy } from './agent-sim/network/policy';
export { NETWORK_FAULT_KINDS, type NetworkFault } from './protocol/faults';
export { parseDeviceFaults, DEVICE_FAULT_KINDS, type DeviceFault, type DeviceFaultKind, type DeviceFaultState } from './protocol/faults';
export * as agentProtocol from './protocol/agent';
export { buildManifest, parseManifest, verifyAsset } from './protocol/manifest';
export { startThreadedLab, ThreadedLab, type ThreadedLabOptions } from './lab/threaded/threaded-lab';
export { TLS_PROFILES, TLS_PROFILE_NAMES, CIPHER_SUITES, tlsProfile, suitesFor, TlsProfileError, type TlsProfile, type TlsProfileName, type TlsVersion, type CipherSuite } from './server/http/tls-profiles';
export { checkTls, NetworkCheckError, type NetworkCheckOptions, type NetworkCheckReport } from './lab/network-check';
export { parseTenant, tenantDomains, tenantCertificateNames, DEFAULT_ZONE, type Tenant, type TenantDomains, type Region } from './protocol/tenant';
export { networkRequirements, formatRequirements, type NetworkRequirement, type RequirementsFormat } from './protocol/network-requirements';
export { formatSystemProfiler, type DeviceProfilesJson, type InstalledProfileJson } from './protocol/installed-profiles';
export { startPostureSync, PostureSync, parseNodeList, parseRule, evaluatePosture, normalizeSerial, PrismClient, PrismError, PostureRuleError, NodeListError, AUDIT_ACTIONS, type PostureSyncOptions, type PostureSyncStatus, type PostureNodeState, type PostureNodeInput, type PostureEvent, type SyncReport, type AuditEvent, type AttributeValue } from './posture-sim';
