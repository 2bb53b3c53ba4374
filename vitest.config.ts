import { defineConfig } from 'vitest/config';

// One GPU device per test file (see DESIGN.md): forks keep Dawn's native state per process.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
