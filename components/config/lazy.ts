/**
 * A value built the first time it is used. The stack config's schemas are built this way, and zod
 * with them: importing herd loads neither, and a program that builds its fleets in code, with no
 * stack config to check, never does.
 *
 * The value stands in for the built one in every way a caller uses an object: property reads,
 * `in`, keys and spreads, its prototype. Functions read from it run on the built value's
 * properties, `this` being the stand-in.
 */
export function lazy<T extends object>(build: () => T): T {
    let value: T | undefined;
    const built = (): T => (value ??= build());
    return new Proxy({} as T, {
        get: (_target, key) => Reflect.get(built(), key),
        has: (_target, key) => Reflect.has(built(), key),
        ownKeys: () => Reflect.ownKeys(built()),
        getOwnPropertyDescriptor: (_target, key) => {
            const descriptor = Reflect.getOwnPropertyDescriptor(built(), key);
            return descriptor && { ...descriptor, configurable: true };
        },
        getPrototypeOf: () => Reflect.getPrototypeOf(built()),
    });
}

/** The yaml package, loaded with the first document read or written: importing herd does not load it. */
export const YAML = lazy(() => require("../vendor/yaml") as typeof import("../vendor/yaml"));
