import { request } from 'node:http';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../support/app.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';
import { gate, T0, uid, type Gate } from './decisions/support.js';

const PROBLEM = 'application/problem+json';
/** What neither an answer nor a log line may carry: a statement, its parameters, a webhook secret. */
const LEAKS = ['Failed query', 'params', 'insert into', 'select ', 'whsec_'];

/** A GET sent as is (inject and most clients normalise `..` away; an attacker's client does not). */
function rawGet(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describeWithServers('no SQL, parameters or secrets in answers and logs', () => {
  const databaseUrl = useTestDatabase();
  const redisPrefix = useRedisPrefix();
  const lines: string[] = [];
  let t: TestApp;
  let g: Gate;
  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    t = await startTestApp({ databaseUrl: databaseUrl(), redisUrl: services.redisUrl!, redisPrefix, logger });
    g = gate(t, redisPrefix);
    // PostgreSQL refuses the ledger row of any request id starting "poison-" (as it refuses a NUL).
    await t.database.db.execute(
      sql.raw(`
        create function qg_refuse() returns trigger language plpgsql as $$
        begin
          if new.request_id like 'poison-%' then
            raise exception using errcode = '22021', message = 'injected refusal: ' || new.request_id;
          end if;
          return new;
        end $$;
        create trigger qg_refuse before insert on ledger_request_ids
          for each row execute function qg_refuse();`),
    );
  });
  afterAll(() => t?.close());

  const expectClean = (text: string) => {
    for (const leak of LEAKS) expect(text).not.toContain(leak);
  };

  describe('a ledger row PostgreSQL refuses', () => {
    it('answers that settle 500 internal_error without detail; the settle beside it commits', async () => {
      const user = uid('u');
      const body = (requestId: string) => ({ requestId, costUsd: 0.01, userId: user, model: 'm-hygiene' });
      const [poisoned, good] = await Promise.all([
        g.settle(body(uid('poison-settle')), T0),
        g.settle(body(uid('r')), T0),
      ]);
      expect(poisoned.status).toBe(500);
      expect(poisoned.headers['content-type']).toContain(PROBLEM);
      expect(poisoned.body).toMatchObject({ code: 'internal_error', detail: 'an internal error occurred' });
      expectClean(poisoned.raw.body);
      expect(good.status).toBe(200);
      const metrics = await t.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toContain('quotagate_refused_rows_total{table="usage_ledger"} 1');
      const refusal = lines.find((l) => l.includes('ledger row refused'));
      expect(refusal).toBeDefined();
      // The server's message without the value it quoted; the SQLSTATE for the operator.
      expect(refusal).toContain('"code":"22021"');
      expect(refusal).toContain('"message":"injected refusal"');
    });

    it('answers a release whose ledger row is refused 500, not a silent 200', async () => {
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 10 });
      const requestId = uid('poison-release');
      const reserved = await g.reserve(
        { requestId, userId: user, model: 'm-hygiene', estimatedCostUsd: 0.01 },
        T0,
      );
      expect(reserved.status).toBe(200);
      const released = await g.release(requestId, T0 + 1000);
      expect(released.status).toBe(500);
      expect(released.body).toMatchObject({ code: 'internal_error' });
      expectClean(released.raw.body);
    });
  });

  it('logs a failed webhook create without its secret or the statement', async () => {
    await t.database.db.execute(
      sql.raw(`
        create function qg_refuse_webhook() returns trigger language plpgsql as $$
        begin
          raise exception using errcode = '23514', message = 'injected: webhooks refused';
        end $$;
        create trigger qg_refuse_webhook before insert on webhooks
          for each row execute function qg_refuse_webhook();`),
    );
    const before = lines.length;
    const created = await t.inject({
      method: 'POST',
      url: '/admin/webhooks',
      headers: ADMIN,
      payload: { url: 'https://alerts.example.com/quotagate' },
    });
    expect(created.statusCode).toBe(500);
    expect(created.json()).toMatchObject({ code: 'internal_error', detail: 'an internal error occurred' });
    const logged = lines.slice(before).join('\n');
    expect(logged).toContain('request failed');
    expect(logged).toContain('"code":"23514"');
    expectClean(logged);
  });

  it('never logs a query parameter anywhere in this file', () => {
    expectClean(lines.join('\n'));
  });

  describe('framework refusals keep their 4xx status as a problem document', () => {
    let port = 0;
    beforeAll(async () => {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      port = (t.app.server.address() as { port: number }).port;
    });

    it('answers a path out of the docs folder 403 request_refused, not 500', async () => {
      for (const path of ['/docs/static/../../package.json', '/docs/static/%2e%2e/%2e%2e/package.json']) {
        const answer = await rawGet(port, path);
        expect(answer.status, path).toBe(403);
        expect(answer.type).toContain(PROBLEM);
        expect(JSON.parse(answer.body)).toMatchObject({ status: 403, code: 'request_refused' });
        expect(answer.body).not.toContain('"name"');
      }
    });

    it('answers a docs file that is not there 404 not_found, not 405', async () => {
      const answer = await rawGet(port, '/docs/static/missing.js');
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'not_found' });
    });

    it('answers a body of another media type 415', async () => {
      const answer = await t.inject({
        method: 'POST',
        url: '/settle',
        headers: { ...ADMIN, 'content-type': 'text/xml' },
        payload: '<settle/>',
      });
      expect(answer.statusCode).toBe(415);
      expect(answer.json()).toMatchObject({ code: 'unsupported_media_type' });
    });
  });
});
