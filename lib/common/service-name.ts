/**
 * The name a service is registered and discovered under: the seed's "service = name + version",
 * written `name:version`, so consumers pinned to a version never reach another version's providers.
 */
export function serviceName(service: string, version?: string): string {
  return version ? `${service}:${version}` : service;
}
