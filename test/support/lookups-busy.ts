import { addressResolver, LookupsBusy } from '../../src/deliveries/destination.js';

/** Runs `work` while every host name lookup is refused, as when no lookup slot comes free in time. */
export async function whileLookupsBusy<T>(work: () => Promise<T>): Promise<T> {
  const resolve = addressResolver.resolve;
  addressResolver.resolve = async () => {
    throw new LookupsBusy('no host name lookup could start within 5 s');
  };
  try {
    return await work();
  } finally {
    addressResolver.resolve = resolve;
  }
}
