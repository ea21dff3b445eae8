export * from './queue.js';
export * from './bus.js';
export * from './metrics.js';
