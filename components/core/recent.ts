/**
 * The values computed lately, by key, at most `max` of them: the oldest goes when a new one comes.
 * For pure work a program repeats with the same input (parsing a document, rendering a release),
 * so that it is done once. A computation that throws keeps nothing.
 */
export class Recent<K, V> {
    private readonly values = new Map<K, V>();

    constructor(private readonly max: number) {}

    /** The value kept for `key`, else `compute()`'s, kept. */
    get(key: K, compute: () => V): V {
        if (this.values.has(key)) {
            return this.values.get(key)!;
        }
        const value = compute();
        if (this.values.size >= this.max) {
            this.values.delete(this.values.keys().next().value!);
        }
        this.values.set(key, value);
        return value;
    }
}
