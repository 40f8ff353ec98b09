import { createApp } from '../../src/app.ts';
import type { Deps } from '../../src/deps.ts';

/**
 * A caller of a fresh app over the test's deps, answering status, Location and the JSON body,
 * and `until`, which polls a run's URL (as admin) until it has the given status.
 */
export function appCaller(getDeps: () => Deps, adminKey: () => string) {
  async function call(method: string, path: string, key: string | null, body?: unknown) {
    const res = await createApp(getDeps()).request(path, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, location: res.headers.get('location'), body: (await res.json()) as any };
  }
  async function until(path: string, status: string) {
    for (let i = 0; i < 600; i++) {
      const res = await call('GET', path, adminKey());
      if (res.body.status === status) return res;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${path} never ${status}`);
  }
  return { call, until };
}
