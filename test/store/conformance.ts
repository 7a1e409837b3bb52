import { afterAll, beforeAll, describe } from 'vitest';
import type { CounterStore } from '../../src/store/counter-store.js';
import { admissionSuite } from './suites/admission.js';
import { extendSuite } from './suites/extend.js';
import { tokensSuite } from './suites/tokens.js';
import { shadowSuite } from './suites/shadow.js';
import { holdFreeSuite } from './suites/hold-free.js';
import { holdsSuite } from './suites/holds.js';
import { idsSuite } from './suites/ids.js';
import { lifecycleSuite } from './suites/lifecycle.js';
import { seedSuite } from './suites/seed.js';
import { sessionsSuite } from './suites/sessions.js';
import { warmthSuite } from './suites/warmth.js';
import { windowRulesSuite } from './suites/window-rules.js';
import { windowsSuite } from './suites/windows.js';

/**
 * The counter-store contract (src/store/counter-store.ts), registered against any adapter.
 * One store serves the whole file: every test works on subjects of its own.
 */
export function counterStoreConformance(name: string, open: () => Promise<CounterStore>): void {
  describe(`${name} counter store conformance`, () => {
    let store: CounterStore | undefined;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });
    const current = () => {
      if (!store) throw new Error('store not opened');
      return store;
    };
    admissionSuite(current);
    holdsSuite(current);
    holdFreeSuite(current);
    extendSuite(current);
    tokensSuite(current);
    shadowSuite(current);
    sessionsSuite(current);
    windowsSuite(current);
    windowRulesSuite(current);
    lifecycleSuite(current);
    warmthSuite(current);
    seedSuite(current);
    idsSuite(current);
  });
}
