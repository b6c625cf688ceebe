import { MissingDependencyError } from '../errors/missing-dependency-error.js';

/**
 * Loads an optional peer dependency on first use, as Nest loads `kafkajs` or `amqplib`: only the
 * applications that configure the feature install the package, and one that forgot gets a
 * {@link MissingDependencyError} naming the `npm install` that fixes it instead of a bare
 * ERR_MODULE_NOT_FOUND.
 *
 * `load` is the caller's own `() => import('pkg')`, so the specifier stays a literal that
 * bundlers and `npm ls` tooling can see. CommonJS packages imported from ESM expose their
 * `module.exports` as `default`; that is what is returned when present.
 */
export async function loadOptionalPackage<T>(feature: string, packages: readonly string[], load: () => Promise<unknown>): Promise<T> {
  let loaded: unknown;
  try {
    loaded = await load();
  } catch (err) {
    throw new MissingDependencyError(packages, feature, { cause: err });
  }
  const namespace = loaded as { default?: unknown };
  return (namespace.default ?? namespace) as T;
}
