import type autocannon from 'autocannon';
import type { Recorder, RequestsFactory } from './load.js';
import { COST_USD, ESTIMATE_USD, ESTIMATED_TOKENS, keyIdOf, MODEL, TOKEN_MODEL, userIdOf } from './seed.js';

/**
 * What each scenario sends. Every request names the next user in turn (so all users'
 * buckets are exercised, as behind a real gateway), and every reserve/settle a request id
 * never used before in the run.
 */
export interface ScenarioTarget {
  token: string;
  users: number;
}

let sequence = 0;
const nextRequestId = () => `r-${(sequence++).toString(36)}`;

function rotation(users: number) {
  let n = 0;
  return () => n++ % users;
}

const headersFor = (token: string) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
});

/** The body of every /check (and of the baseline's and peers' requests) for user i. */
export const demand = (i: number) => ({
  userId: userIdOf(i),
  keyId: keyIdOf(i),
  model: MODEL,
  estimatedCostUsd: ESTIMATE_USD,
});

/** A POST whose body is built per request. */
function post(
  path: string,
  token: string,
  body: (context: Record<string, unknown>) => object | null,
  onResponse: autocannon.Request['onResponse'],
): autocannon.Request {
  return {
    method: 'POST',
    path,
    headers: headersFor(token),
    setupRequest: (request, context) => {
      const payload = body(context as Record<string, unknown>);
      // null skips this step: autocannon starts the sequence over (counted in `resets`).
      return payload === null
        ? (null as unknown as autocannon.Request)
        : { ...request, body: JSON.stringify(payload) };
    },
    onResponse,
  };
}

/** The baseline gets the /check body: same parsing work, same request size. */
export const baseline =
  ({ users }: ScenarioTarget): RequestsFactory =>
  (recorder: Recorder) => {
    const next = rotation(users);
    return [post('/baseline', 'unused', () => demand(next()), recorder.mark('/baseline'))];
  };

/** The peers (peer-server.ts) get the same body too. */
export const peer =
  ({ users }: ScenarioTarget): RequestsFactory =>
  (recorder: Recorder) => {
    const next = rotation(users);
    return [post('/peer', 'unused', () => demand(next()), recorder.mark('/peer'))];
  };

export const check =
  ({ token, users }: ScenarioTarget): RequestsFactory =>
  (recorder: Recorder) => {
    const next = rotation(users);
    return [post('/check', token, () => demand(next()), recorder.mark('/check'))];
  };

/** /check on the token group: three of the six buckets count tokens (SPEC §4.7). */
export const tokenCheck =
  ({ token, users }: ScenarioTarget): RequestsFactory =>
  (recorder: Recorder) => {
    const next = rotation(users);
    const body = () => {
      const i = next();
      return { userId: userIdOf(i), model: TOKEN_MODEL, estimatedCostUsd: ESTIMATE_USD, ...ESTIMATED_TOKENS };
    };
    return [post('/check', token, body, recorder.mark('/check'))];
  };

/**
 * The gateway's two-step flow on one connection: reserve, then settle that request id
 * (its reservation is found, its frozen buckets charged). A refused reserve is not settled.
 */
export const reserveThenSettle =
  ({ token, users }: ScenarioTarget): RequestsFactory =>
  (recorder: Recorder) => {
    const next = rotation(users);
    const reserve = post(
      '/reserve',
      token,
      (context) => {
        const requestId = nextRequestId();
        context.requestId = requestId;
        return { ...demand(next()), requestId };
      },
      recorder.mark('/reserve', (status, context) => (context.admitted = status === 200)),
    );
    const settle = post(
      '/settle',
      token,
      (context) => (context.admitted ? { requestId: context.requestId, costUsd: COST_USD } : null),
      recorder.mark('/settle (reserved)'),
    );
    return [reserve, settle];
  };

/** A settle with no reservation: buckets resolved from userId/keyId/model, 1 request counted. */
export const settleAlone =
  ({ token, users }: ScenarioTarget): RequestsFactory =>
  (recorder: Recorder) => {
    const next = rotation(users);
    return [
      post(
        '/settle',
        token,
        () => {
          const i = next();
          return {
            requestId: nextRequestId(),
            costUsd: COST_USD,
            userId: userIdOf(i),
            keyId: keyIdOf(i),
            model: MODEL,
          };
        },
        recorder.mark('/settle'),
      ),
    ];
  };
