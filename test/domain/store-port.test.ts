import { describe, expectTypeOf, it } from 'vitest';
import type { IdentifiedState } from '../../src/domain/bucket-state.js';
import type { BucketState as PortState } from '../../src/store/counter-store.js';

// Checked by tsc: the port declares its own state type; drifting from the core's fails the typecheck.
// (The port's Counting is the core's own type, re-exported.)
describe('the counter-store port', () => {
  it('reports states the decision core reads as is', () => {
    expectTypeOf<PortState>().toExtend<IdentifiedState>();
  });
});
