/** Wraps a Store so every operation is timed into the store latency histogram, without the store knowing. */
import type { Store } from '../store/types.js';
import type { Metrics } from './metrics.js';

export function timedStore(store: Store, metrics: Metrics): Store {
  const histogram = metrics.storeDuration;
  const wrapped = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'close') return value;
      let fn = wrapped.get(prop);
      if (fn === undefined) {
        const operation = prop;
        const method = value as (...a: unknown[]) => Promise<unknown>;
        fn = (...args: unknown[]) => {
          const end = histogram.startTimer({ operation });
          return method.apply(target, args).then(
            (v) => {
              end({ result: 'ok' });
              return v;
            },
            (e: unknown) => {
              end({ result: 'error' });
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
