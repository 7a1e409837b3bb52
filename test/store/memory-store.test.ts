import { MemoryCounterStore } from '../../src/store/memory/memory-store.js';
import { counterStoreConformance } from './conformance.js';

counterStoreConformance('in-process', async () => new MemoryCounterStore());
