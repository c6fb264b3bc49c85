// What the model runtime has loaded, by content id, shared by every component on the page.
//
// Each component's script is a module of its own, so the registry lives on globalThis: the runtime
// component provides (weights, maps, score lists), the views wait for what they name. An entry is
// a promise, settled once; the oldest entries are dropped beyond KEPT (views keep what they hold).
const KEPT = 16;
const registry = (globalThis.__latentExplorerRuntime ??= new Map());

function entry(id) {
  let found = registry.get(id);
  if (!found) {
    found = { started: false };
    found.promise = new Promise((resolve, reject) => Object.assign(found, { resolve, reject }));
    found.promise.catch(() => {});  // a failure is reported to whoever waits, not as an unhandled rejection
    registry.set(id, found);
    for (const old of registry.keys()) if (registry.size > KEPT && old !== id) registry.delete(old);
  }
  return found;
}

/** Build the value for `id` once (build may return a promise); later calls for the same id do nothing. */
export function provide(id, build) {
  const found = entry(id);
  if (found.started) return;
  found.started = true;
  Promise.resolve().then(build).then(found.resolve, found.reject);
}

/** A promise of the value provided for `id`, whether it has arrived yet or not. */
export function loaded(id) {
  return entry(id).promise;
}
