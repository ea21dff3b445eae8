export * from './queue.js';
export * from './bus.js';
