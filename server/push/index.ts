/** The MDM server's push path: an APNs provider API client and the service that decides when to push. */
export {
  ApnsClient,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type ApnsClientOptions,
  type ApnsRequestHeaders,
  type ApnsSendResult,
  type ApnsSender,
} from './apns-client';
export {
  DEFAULT_RETRY_POLICY,
  PushService,
  type AttemptWhy,
  type PushOutcome,
  type PushServiceOptions,
  type PushWhy,
  type RetryPolicy,
  type SkipReason,
} from './push-service';
