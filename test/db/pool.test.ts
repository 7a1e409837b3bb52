import { afterAll, expect, it } from 'vitest';
import { GuardedPool } from '../../src/db/pool.js';
import { describeWithPostgres, services } from '../support/services.js';

describeWithPostgres('GuardedPool', () => {
  const pool = new GuardedPool({ connectionString: services.postgresUrl ?? '', max: 1 });
  afterAll(() => pool.end());

  it('guards a reused client once: queries do not grow a layer per checkout', async () => {
    const first = await pool.connect();
    const guardedQuery = first.query;
    first.release();
    for (let i = 0; i < 50; i++) {
      const again = await pool.connect();
      try {
        // max: 1, so this is the same connection every time.
        expect(again).toBe(first);
        expect(again.query).toBe(guardedQuery);
        await again.query('select 1');
      } finally {
        again.release();
      }
      again.release(); // a second release of one checkout stays a no-op
    }
    expect(pool.idleCount).toBe(1);
  });
});
