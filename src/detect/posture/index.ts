/** Public surface of the posture module. */
export { evaluate, type EvaluateOptions } from './engine.js';
export { loadCatalogue } from './catalogue.js';
export { loadText } from './load.js';
export { locateFindings } from './locate.js';
export { readPaths, readCluster } from './sources.js';
export { render, failsAt, type OutputFormat } from './output.js';
export { parseExceptions, loadExceptions, type ExceptionRule } from './exceptions.js';
export { PostureDetector, createPostureDetector, workloadNameOf } from './detector.js';
export { PostureIndex, type PostureQuery } from './posture-index.js';
export type { Finding, FieldLocation, ControlDef, ScanResult, Severity, K8sObject } from './types.js';
