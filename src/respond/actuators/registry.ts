/** Actuators, one line each. */
import type { Actuator } from '../types.js';
import { createDockerActuator } from './docker.js';
import { createKubernetesActuator } from './kubernetes.js';

export interface ActuatorContext {
  config: Record<string, Record<string, unknown> | undefined>;
}

export type ActuatorFactory = (ctx: ActuatorContext) => Actuator | undefined | Promise<Actuator | undefined>;

const factories: [name: string, factory: ActuatorFactory][] = [
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
