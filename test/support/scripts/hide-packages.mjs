// Module resolution hook (module.register): the packages named in `data` resolve as if they were
// not installed, with the error Node gives for a missing package.
let hidden = [];

export function initialize(data) {
  hidden = data;
}

export async function resolve(specifier, context, next) {
  if (hidden.some((name) => specifier === name || specifier.startsWith(`${name}/`))) {
    const err = new Error(`Cannot find package '${specifier}' imported from ${context.parentURL}`);
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}
