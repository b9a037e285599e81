/**
 * The entry of a worker process (one `pulumi up` through the Automation API, in a process of its
 * own so the program is loaded fresh): the job is the JSON of `argv[2]`; the result goes to
 * standard output as one JSON line, and everything else (the engine's and the program's output)
 * to standard error; a failure exits 1 with its message alone.
 */
export function runWorker<Job, Result>(main: (job: Job) => Promise<Result>): void {
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
    main(JSON.parse(process.argv[2] ?? "{}") as Job).then(
        (result) => {
            write(`${JSON.stringify(result)}\n`);
            process.exit(0);
        },
        (err: unknown) => {
            process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
        },
    );
}
