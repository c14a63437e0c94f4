// Apart from sampler.ts: the configuration (read at the edge too) must not load the SDK.

/** OTEL_TRACES_SAMPLER's values, as the OpenTelemetry SDK environment specification names them. */
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TraceSamplerName = (typeof TRACE_SAMPLERS)[number];
