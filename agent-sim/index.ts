/**
 * Simulated Macs (see README.md): identities, the Mac itself, the fleet, and the pieces a
 * test or a lab may want on their own (courier client, HTTP, scheduler).
 */
export { Fleet, DEFAULT_COURIER_PORT, type FleetOptions, type FleetFaults, type EnrollAllResult } from './fleet';
export { SimulatedMac, SchemaViolation, EnrollmentError, RESTART_MS, type MacEvent, type MacHost } from './mac';
export { macIdentity, fleetNumber, MAC_MODELS, OS_RELEASES, releasesFor, SERIAL_ALPHABET, type MacModel, type OsRelease, type Shard, type MacIdentityOptions } from './identity';
export { CourierClient, CourierError, type CourierClientOptions, type PushTarget } from './courier';
export { FleetHttp, macRequest, pemCertificates, flipOneByte, type HttpResponse, type HttpRequest, type NetworkFaults, type RequestPurpose } from './http';
export { BucketScheduler, nextOnGrid } from './scheduler';
export { AgentRunner } from './agent';
export type { MacIdentity, MacState, HandlerOutcome, CommandContext } from './state';
