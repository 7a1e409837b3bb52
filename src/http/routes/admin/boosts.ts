import type { ZodApp } from '../../types.js';
import type { AdminRouteDeps } from './index.js';

// Placeholder until the admin API lands.
export async function boostRoutes(_app: ZodApp, _deps: AdminRouteDeps): Promise<void> {}
