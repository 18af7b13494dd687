export { ApnsClient, type ApnsClientOptions, type ApnsRequestHeaders, type ApnsSendResult, type ApnsSender } from './apns-client';
export { PushService, type PushOutcome, type PushServiceOptions, type PushWhy, type RetryPolicy } from './push-service';
