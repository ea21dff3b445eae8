/** Every check by name, as the control catalogue refers to them, gathered from one module per concern. */
import { apiVersionChecks } from './api-versions.js';
import { availabilityChecks } from './availability.js';
import { consistencyChecks } from './consistency.js';
import { controlPlaneChecks } from './control-plane.js';
import { credentialChecks } from './credentials.js';
import { exposureChecks } from './exposure.js';
import { hostPathChecks } from './host-paths.js';
import { hygieneChecks } from './hygiene.js';
import { imageChecks } from './images.js';
import { networkPolicyChecks } from './network-policy.js';
import { podSecurityAdmissionChecks } from './pod-security-admission.js';
import { podSecurityChecks } from './pod-security.js';
import { probeChecks } from './probes.js';
import { rbacChecks } from './rbac.js';
import { resourceChecks } from './resources.js';
import { serviceAccountChecks } from './service-accounts.js';
import type { Check } from './types.js';
import { vulnerabilityChecks } from './vulnerabilities.js';

export type CheckRegistry = Readonly<Record<string, Check>>;

export const CHECKS: CheckRegistry = Object.freeze({
  ...podSecurityChecks,
  ...hostPathChecks,
  ...resourceChecks,
  ...imageChecks,
  ...credentialChecks,
  ...serviceAccountChecks,
  ...hygieneChecks,
  ...rbacChecks,
  ...exposureChecks,
  ...networkPolicyChecks,
  ...podSecurityAdmissionChecks,
  ...controlPlaneChecks,
  ...vulnerabilityChecks,
  ...consistencyChecks,
  ...probeChecks,
  ...availabilityChecks,
  ...apiVersionChecks,
});
