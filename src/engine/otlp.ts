/**
 * The OTLP/HTTP receiver beside a running engine (`vigie run --otlp`): its spans go to the engine's
 * `otlp` source, through the events queue, to the trace-model detector and the engine's trace model.
 * It checks the API's tokens (same database) and records into the engine's metrics.
 */
import type { Db } from '../infra/db.js';
import { TokenStore } from '../server/auth.js';
import { parseOtlpListen, startOtlpReceiver, type RunningOtlpReceiver } from '../server/otlp.js';
import { OtlpSource } from '../sources/otlp/source.js';
import type { Engine } from './engine.js';

export async function startOtlpFor(
  engine: Engine,
  db: Db,
  listen: string | true,
): Promise<RunningOtlpReceiver> {
  const { host, port } = parseOtlpListen(listen);
  const source = engine.sources.find((s): s is OtlpSource => s instanceof OtlpSource);
  if (!source) throw new Error('the otlp source is not running (is it left out by --sources?)');
  return startOtlpReceiver({
    host,
    port,
    tokens: new TokenStore(db),
    metrics: engine.metrics,
    onSpans: (spans) => source.pushSpans(spans),
    onMalformed: () => source.countMalformed(),
  });
}
