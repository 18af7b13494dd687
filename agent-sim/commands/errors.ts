/**
 * The ErrorChains the simulated Mac answers with, in one place so their sources sit next to
 * them. Apple says servers must not depend on these codes (MDM Protocol Reference, "Error
 * Codes"), but real servers do match on them, so we use the real ones where they are known.
 *
 * Sources:
 * - [codes] Apple, MDM Protocol Reference (archived), "Error Codes": the MCMDMErrorDomain,
 *   MCProfileErrorDomain, MCInstallationErrorDomain and MCCertificateErrorDomain tables
 *   (12008 Malformed request, 12021 Invalid request type, 12024 Could not validate app
 *   manifest, 12030 Invalid URL, 12032 Too many apps in manifest, 12033 Invalid manifest,
 *   12034 URL is not HTTPS, 12043 Media download failure, 1000 Malformed profile, 1004 Bad
 *   signature, 1006 Cannot decrypt, 4000 Cannot parse profile, 9000 Invalid password,
 *   9005 Certificate is malformed).
 * - [strings] ManagedConfiguration's English strings, MDM_ERROR_INVALID_REQUEST_TYPE_P_REQUEST
 *   = "“%@” is not a valid request type." (a public diff of DMCUtilities' loctable).
 * - [mac-profile] Real macOS answers quoted by Fleet (fleetdm/fleet#21713 and its tests):
 *   "MDMClientError (89): Profile with identifier '…' not found." for RemoveProfile and
 *   "MDMClientError (96): Cannot replace profile '…' because it was not installed by the MDM server."
 * - [invalid-profile] profiled's log of a malformed profile (bitstadium/HockeyKit#185):
 *   MCInstallationErrorDomain 4000 "Invalid Profile" over MCProfileErrorDomain 1000 "Invalid Profile".
 * - [nsurl] Foundation's NSURLErrorDomain codes (NSURLErrorCannotConnectToHost = -1004,
 *   NSURLErrorBadServerResponse = -1011, Apple's Foundation reference).
 */
import type { ErrorChainItem } from '../../protocol/result';
import { NetworkError } from '../state';

export const MCMDM_DOMAIN = 'MCMDMErrorDomain';
export const MDM_CLIENT_DOMAIN = 'MDMClientError';
export const PROFILE_DOMAIN = 'MCProfileErrorDomain';
export const INSTALLATION_DOMAIN = 'MCInstallationErrorDomain';
export const CERTIFICATE_DOMAIN = 'MCCertificateErrorDomain';
export const NSURL_DOMAIN = 'NSURLErrorDomain';

/** Devices send the same English text twice when their language is English. */
export function item(domain: string, code: number, description: string): ErrorChainItem {
  return { ErrorCode: code, ErrorDomain: domain, LocalizedDescription: description, USEnglishDescription: description };
}

/** [codes] 12021 + [strings] wording. */
export function invalidRequestType(requestType: string): ErrorChainItem[] {
  return [item(MCMDM_DOMAIN, 12021, `“${requestType}” is not a valid request type.`)];
}

/**
 * [codes] 12008 "Malformed request". Whether a Mac sends an ErrorChain with
 * CommandFormatError at all is not documented; we send one so the server can tell why.
 */
export function malformedRequest(detail: string): ErrorChainItem[] {
  return [item(MCMDM_DOMAIN, 12008, `Malformed request: ${detail}`)];
}

/** [mac-profile] MDMClientError 89. */
export function profileNotFound(identifier: string): ErrorChainItem[] {
  return [item(MDM_CLIENT_DOMAIN, 89, `Profile with identifier '${identifier}' not found.`)];
}

/** [mac-profile] MDMClientError 96. */
export function profileNotInstalledByMdm(identifier: string): ErrorChainItem[] {
  return [item(MDM_CLIENT_DOMAIN, 96, `Cannot replace profile '${identifier}' because it was not installed by the MDM server.`)];
}

/** [invalid-profile] with the reason appended to the underlying error. */
export function invalidProfile(detail: string): ErrorChainItem[] {
  return [item(INSTALLATION_DOMAIN, 4000, 'Invalid Profile'), item(PROFILE_DOMAIN, 1000, `Invalid Profile: ${detail}`)];
}

/** [codes] 1004 "Bad signature": the Payload looked like CMS but could not be read as one. */
export function badProfileSignature(detail: string): ErrorChainItem[] {
  return [item(INSTALLATION_DOMAIN, 4000, 'Invalid Profile'), item(PROFILE_DOMAIN, 1004, `The profile’s signature could not be read: ${detail}`)];
}

/** [codes] 1006 "Cannot decrypt": the simulation holds no key to open EncryptedPayloadContent. */
export function cannotDecryptProfile(identifier: string): ErrorChainItem[] {
  return [item(PROFILE_DOMAIN, 1006, `The profile “${identifier}” could not be decrypted.`)];
}

/** [codes] 9005 "Certificate is malformed". */
export function malformedCertificate(payloadIdentifier: string, detail: string): ErrorChainItem[] {
  return [item(CERTIFICATE_DOMAIN, 9005, `The certificate in payload “${payloadIdentifier}” is malformed: ${detail}`)];
}

/** [codes] 9000 "Invalid password": a PKCS#12 payload that its Password does not open. */
export function pkcs12BadPassword(payloadIdentifier: string): ErrorChainItem[] {
  return [item(CERTIFICATE_DOMAIN, 9000, `The password for the identity in payload “${payloadIdentifier}” is incorrect.`)];
}

// InstallEnterpriseApplication. A real Mac acknowledges the command before it downloads
// anything and reports failures only in its log (fleetdm/fleet#8815, #21675;
// openradar 26517261); mdmsim reports them as an Error, as issue 5 asks, with the
// MCMDMErrorDomain code whose documented meaning fits best.

/** [codes] 12030 "Invalid URL". */
export function invalidUrl(url: string): ErrorChainItem[] {
  return [item(MCMDM_DOMAIN, 12030, `The URL “${url}” is invalid.`)];
}

/** [codes] 12034 "URL is not HTTPS". */
export function urlNotHttps(url: string): ErrorChainItem[] {
  return [item(MCMDM_DOMAIN, 12034, `The URL “${url}” does not use HTTPS.`)];
}

/** [codes] 12033 "Invalid manifest". */
export function invalidManifest(detail: string): ErrorChainItem[] {
  return [item(MCMDM_DOMAIN, 12033, `The app manifest is invalid: ${detail}`)];
}

/** [codes] 12032 "Too many apps in manifest". */
export function tooManyApps(count: number): ErrorChainItem[] {
  return [item(MCMDM_DOMAIN, 12032, `The app manifest lists ${count} apps; only one can be installed per command.`)];
}

/** [codes] 12024 "Could not validate app manifest": the download does not match its hashes. */
export function hashMismatch(url: string, detail: string): ErrorChainItem[] {
  return [item(MCMDM_DOMAIN, 12024, `The download from “${url}” could not be validated against the app manifest: ${detail}`)];
}

/** [codes] 12043 "Media download failure", over the [nsurl] error that caused it. */
export function downloadFailed(what: 'manifest' | 'package', error: NetworkError): ErrorChainItem[] {
  const noun = what === 'manifest' ? 'app manifest' : 'package';
  const under =
    error.status === undefined
      ? item(NSURL_DOMAIN, -1004, `Could not connect to the server (${error.message}).`)
      : item(NSURL_DOMAIN, -1011, `The server answered HTTP ${error.status} (${error.message}).`);
  return [item(MCMDM_DOMAIN, 12043, `The ${noun} could not be downloaded from “${error.url}”.`), under];
}
