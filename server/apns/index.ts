export { ApnsMock, startApnsMock, DEFAULT_APNS_PORT, DEFAULT_COURIER_PORT, type ApnsMockOptions } from './mock';
export { ApnsHub, type ApnsActivity, type TokenState } from './hub';
export { ApnsFaults, type ApnsFaultState, type ProviderState } from './faults';
export { ProviderKeys, keyJson, type ProviderKey, type ProviderKeyInput } from './keys';
export { CHECKS, type Check } from './checks';
export type { ApnsEnvironment } from './certificate';
