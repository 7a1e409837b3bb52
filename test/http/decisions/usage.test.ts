import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  HOUR,
  SECOND,
  T0,
  bucketOf,
  expectAllowed,
  expectProblem,
  iso,
  keyOf,
  uid,
  useServersGate,
} from './support.js';

describeWithServers('/usage', () => {
  const gate = useServersGate();

  async function configured() {
    const g = gate();
    const [user, key] = [uid('u'), uid('k')];
    const [opusModel, haikuModel, loose] = [uid('model'), uid('model'), uid('model')];
    const opus = await g.modelGroup([opusModel]);
    const haiku = await g.modelGroup([haikuModel]);
    await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: opus.id,
      metric: 'cost',
      window: '5h',
      limit: 10,
    });
    await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: haiku.id,
      metric: 'requests',
      window: '20h',
      limit: 50,
    });
    await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 20 });
    await g.limit({ subjectType: 'user', subjectId: user, metric: 'sessions', window: '20h', limit: 5 });
    await g.limit({
      subjectType: 'user',
      subjectId: user,
      metric: 'requests',
      window: '5h',
      reset: 'first_use',
      limit: 5,
    });
    await g.limit({ subjectType: 'key', subjectId: key, metric: 'requests', window: '1m', limit: 30 });
    return { g, user, key, opus, haiku, opusModel, haikuModel, loose };
  }

  it('lists the buckets a model’s requests are charged to, with the model’s group', async () => {
    const c = await configured();
    const a = await c.g.usage({ userId: c.user, keyId: c.key, model: c.opusModel }, T0);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({
      userId: c.user,
      keyId: c.key,
      model: c.opusModel,
      modelGroup: { id: c.opus.id, name: c.opus.name },
    });
    expect(a.body.buckets.map((b: { key: string }) => b.key)).toEqual([
      keyOf('user', c.user, c.opus.id, 'cost', '5h'),
      keyOf('user', c.user, null, 'requests', '5h'),
      keyOf('user', c.user, null, 'sessions', '20h'),
      keyOf('key', c.key, null, 'requests', '1m'),
    ]);
    expect(a.headers['ratelimit']).toBeUndefined();
  });

  it('lists every bucket of the user in every scope without a model', async () => {
    const c = await configured();
    const a = await c.g.usage({ userId: c.user }, T0);
    expect(a.body).toMatchObject({ keyId: null, model: null, modelGroup: null });
    expect(a.body.buckets.map((b: { key: string }) => b.key).sort()).toEqual(
      [
        keyOf('user', c.user, c.opus.id, 'cost', '5h'),
        keyOf('user', c.user, c.haiku.id, 'requests', '20h'),
        keyOf('user', c.user, null, 'cost', 'daily'),
        keyOf('user', c.user, null, 'sessions', '20h'),
        keyOf('user', c.user, null, 'requests', '5h'),
      ].sort(),
    );
  });

  it('shows usage, holds and sessions for a "3 / 5 sessions used" screen', async () => {
    const c = await configured();
    for (const [i, session] of ['s-1', 's-2', 's-3'].entries()) {
      expectAllowed(
        await c.g.reserve(
          {
            userId: c.user,
            model: c.opusModel,
            sessionId: session,
            estimatedCostUsd: 1,
            requestId: uid('r'),
          },
          T0 + i * SECOND,
        ),
      );
    }
    const a = await c.g.usage({ userId: c.user, model: c.opusModel }, T0 + 10 * SECOND);
    expect(bucketOf(a.body, keyOf('user', c.user, null, 'sessions', '20h'))).toMatchObject({
      used: 3,
      limit: 5,
      remaining: 2,
      exceeded: false,
    });
    expect(bucketOf(a.body, keyOf('user', c.user, c.opus.id, 'cost', '5h'))).toMatchObject({
      held: 3,
      remaining: 7,
    });
  });

  it('has no side effects: no first-use window opens, nothing is counted', async () => {
    const c = await configured();
    const firstUse = keyOf('user', c.user, null, 'requests', '5h');
    for (let i = 0; i < 3; i++) await c.g.usage({ userId: c.user, model: c.loose }, T0 + i * HOUR);
    const reserved = await c.g.reserve(
      { userId: c.user, model: c.loose, requestId: uid('r') },
      T0 + 3 * HOUR,
    );
    expect(bucketOf(reserved.body, firstUse)).toMatchObject({ used: 1, resetAt: iso(T0 + 8 * HOUR) });
    const a = await c.g.usage({ userId: c.user, model: c.loose }, T0 + 4 * HOUR);
    expect(bucketOf(a.body, firstUse)).toMatchObject({ used: 1, resetAt: iso(T0 + 8 * HOUR) });
    expect(bucketOf(a.body, keyOf('user', c.user, null, 'sessions', '20h'))).toMatchObject({ used: 0 });
  });

  describe('errors', () => {
    it('needs a userId', async () => {
      const g = gate();
      expectProblem(await g.usage({ model: 'm' }, T0), 400, 'validation_failed', 'userId');
    });
  });
});
