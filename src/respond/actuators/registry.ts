/**
 * Actuators, one line each. A factory returns undefined when its platform is not configured.
 */
import type { Actuator, ActuatorContext, ActuatorFactory } from '../types.js';
import { createDockerActuator } from './docker.js';
import { createKubernetesActuator } from './kubernetes.js';

export type { ActuatorContext, ActuatorFactory } from '../types.js';

const factories: readonly (readonly [name: string, factory: ActuatorFactory])[] = [
  ['docker', (ctx) => createDockerActuator(ctx.config.docker)],
  ['kubernetes', (ctx) => createKubernetesActuator(ctx.config.kubernetes)],
];

export async function createActuators(ctx: ActuatorContext): Promise<Actuator[]> {
  const out: Actuator[] = [];
  for (const [, f] of factories) {
    const a = await f(ctx);
    if (a) out.push(a);
  }
  return out;
}
