/**
 * mdmsim's programmatic API: start a server in-process, drive its clock, read its events.
 * Protocol pieces (plist codec, message types, command builders, the schema validator)
 * are exported for suites that speak MDM themselves.
 */
export { startServer, MdmsimServer, type ServerOptions, type ServerInfo } from './server/server';
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
