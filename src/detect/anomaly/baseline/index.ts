export { BaselineDetector, createBaselineDetector } from './detector.js';
export { BaselineManager, createBaselineManager } from './manager.js';
export {
  WorkloadBaseline,
  binaryOf,
  folderOf,
  type BaselineState,
  type WorkloadBaselineJSON,
  type WorkloadStatus,
} from './workload.js';
export { BaselineStore, parseBaselineFile, toBaselineFile, type BaselineFile } from './store.js';
export { defaultBaselineConfig, parseBaselineConfig, type BaselineConfig } from './config.js';
export { SyscallIds } from './syscall-ids.js';
