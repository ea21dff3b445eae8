export * from './event.js';
export * from './alert.js';
export * from './action.js';
