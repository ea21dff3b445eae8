import type { ScanContext } from '../context.js';
import type { Hit, K8sObject } from '../types.js';

export type CheckFn = (o: K8sObject, ctx: ScanContext, params: Record<string, any>) => Hit[];

export interface Check {
  /** Kinds the check looks at; 'podspec' = any object carrying a pod template (known kinds and CRDs). */
  appliesTo: readonly string[];
  fn: CheckFn;
}
