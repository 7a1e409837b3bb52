import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The operator console (SPEC 7.3): built by `npm run build` into dist/console/, served by
// src/http/routes/console.ts under /console/. Paths are relative to the package root (the
// working directory of npm scripts and tests).
export default defineConfig({
  root: 'src/console',
  base: '/console/',
  plugins: [preact()],
  logLevel: 'warn',
  build: { outDir: '../../dist/console', emptyOutDir: true, sourcemap: false },
});
