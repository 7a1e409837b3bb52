import type { paths } from './generated/quotagate.js';

/**
 * The wire types of the decision endpoints, read off the operations of the generated
 * OpenAPI types (`npm run client:types`), so a change of the document changes them here.
 */
type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Post<P extends keyof paths> = paths[P] extends { post: infer O } ? O : never;
type RequestBody<P extends keyof paths> = Post<P> extends { requestBody: infer R } ? Json<R> : never;
type Reply<P extends keyof paths, S extends number> =
  Post<P> extends { responses: infer R } ? (S extends keyof R ? Json<R[S]> : never) : never;

export type CheckRequest = RequestBody<'/check'>;
export type ReserveRequest = RequestBody<'/reserve'>;
export type SettleRequest = RequestBody<'/settle'>;
export type ReleaseRequest = RequestBody<'/release'>;
export type ExtendRequest = RequestBody<'/extend'>;
export type UsageQuery = paths['/usage']['get']['parameters']['query'];

/** A decision of /check or /reserve: 200 admitted, 429 refused, same shape. */
export type Decision = Reply<'/reserve', 200>;
export type BucketState = Decision['buckets'][number];
export type SettleResult = Reply<'/settle', 200>;
export type ReleaseResult = Reply<'/release', 200>;
export type ExtendResult = Reply<'/extend', 200>;
export type Usage = paths['/usage']['get']['responses'][200]['content']['application/json'];
/** RFC 9457 problem document of every 4xx/5xx answer. */
export type Problem = Reply<'/reserve', 400>;
export type ProblemCode = Problem['code'];
