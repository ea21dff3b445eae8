import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One test file at a time: the live tests pin CPU-bound containers to the same core and time
    // what they see (learning, contention, containment); run side by side on two cores they starve
    // each other and measure each other's load instead of their own.
    fileParallelism: false,
    reporters: ['default'],
  },
});
