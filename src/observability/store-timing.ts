/** Wraps a Store so every operation is timed into the store latency histogram, without the store knowing. */
import type { Store } from '../store/types.js';
import type { Metrics } from './metrics.js';

export function timedStore(store: Store, metrics: Metrics): Store {
  const wrapped = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'close') return value;
      let fn = wrapped.get(prop);
      if (fn === undefined) {
        const operation = prop;
        const method = value as (...a: unknown[]) => Promise<unknown>;
        const ok = metrics.storeDurationBy(operation, 'ok');
        const failed = metrics.storeDurationBy(operation, 'error');
        fn = (...args: unknown[]) => {
          const started = performance.now();
          return method.apply(target, args).then(
            (v) => {
              ok.observe((performance.now() - started) / 1000);
              return v;
            },
            (e: unknown) => {
              failed.observe((performance.now() - started) / 1000);
              throw e;
            },
          );
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}
