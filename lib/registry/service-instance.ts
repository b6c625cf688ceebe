/**
 * One provider as the registry reports it. Registries report every instance they know of, healthy
 * or not; deciding which ones may receive calls is the directory's job.
 */
export interface ServiceInstance {
  /** `${host}:${port}` — the address key used by the channel cache */
  id: string;
  host: string;
  port: number;
  /** Relative share of traffic; 0 means "registered but send nothing". */
  weight: number;
  /** The registry's own health verdict (Nacos: beats arriving in time). */
  healthy: boolean;
  /** An operator switch: disabled instances must not receive calls. */
  enabled: boolean;
  cluster: string;
  /** Always string values, whatever the registry stored. */
  metadata: Record<string, string>;
}

/** The address key of an instance, as the channel cache keys its connections. */
export function instanceId(host: string, port: number): string {
  return `${host}:${port}`;
}

/** Registries may hand back numbers, booleans or nested values; consumers get strings only. */
export function stringifyMetadata(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null || typeof raw !== 'object') return out;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    out[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return out;
}
