export {
  QuotaClient,
  retryAfterSeconds,
  type FailMode,
  type QuotaClientOptions,
  type UsageParams,
} from './quota-client.js';
export type {
  GuardAdmitted,
  GuardCall,
  GuardDemand,
  GuardOutcome,
  GuardRefused,
  GuardReservation,
  GuardUsage,
} from './guard.js';
export { QuotaError, QuotaRequestError, QuotaUnavailableError } from './errors.js';
export type * from './types.js';
