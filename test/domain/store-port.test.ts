import { describe, expectTypeOf, it } from 'vitest';
import type { IdentifiedState } from '../../src/domain/bucket-state.js';
import type { Counting } from '../../src/domain/counting.js';
import type { BucketState as PortState, Counting as PortCounting } from '../../src/store/counter-store.js';

// Checked by tsc: a drift between the decision core and the counter-store port fails the typecheck.
describe('the counter-store port', () => {
  it('takes a bucket’s counting as is', () => {
    expectTypeOf<Counting>().toEqualTypeOf<PortCounting>();
  });

  it('reports states the decision core reads as is', () => {
    expectTypeOf<PortState>().toExtend<IdentifiedState>();
  });
});
