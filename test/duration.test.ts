import { expect } from "chai";
import { durationOf } from "../components/config/schema";
import { parseDuration } from "../components/core/duration";
import { durationMs } from "../components/monitoring/gate";
import { cronSchedule, durationSeconds, systemdDuration } from "../components/monitoring/probe";
import { parseWhen } from "../components/cli/timeline";

/**
 * One duration parser behind every place herd reads one: the stack config's schedules and
 * windows, the gate's window, the probe runners' schedules on each backend, the timeline's
 * `--since`. The same text means the same time everywhere, and the same texts are refused.
 */
describe("durations: one parser for every place that reads one", () => {
    it("reads a whole number and one unit, in the units the caller takes", () => {
        expect(parseDuration("30s")).to.deep.equal({ amount: 30, unit: "s", seconds: 30 });
        expect(parseDuration("5m")).to.deep.equal({ amount: 5, unit: "m", seconds: 300 });
        expect(parseDuration("2h")).to.deep.equal({ amount: 2, unit: "h", seconds: 7200 });
        expect(parseDuration("3d")).to.equal(undefined, "days are not a unit unless the caller takes them");
        expect(parseDuration("3d", ["m", "h", "d"])).to.deep.equal({ amount: 3, unit: "d", seconds: 259_200 });
        expect(parseDuration("30s", ["m", "h", "d"])).to.equal(undefined);
    });

    for (const bad of ["", "5", "m", "5 m", " 5m", "5m ", "-5m", "+5m", "1.5h", "5mm", "1h30m", "5M", "５m", "0x5m", "5\nm", "5m\n"]) {
        it(`refuses ${JSON.stringify(bad)} everywhere alike`, () => {
            expect(parseDuration(bad)).to.equal(undefined);
            expect(Number.isNaN(durationOf(bad))).to.equal(true);
            expect(() => durationMs(bad)).to.throw(/expected a duration such as 30s, 15m or 2h/);
            expect(() => systemdDuration(bad)).to.throw(/probe schedule must be a duration/);
            expect(() => durationSeconds(bad)).to.throw(/probe schedule must be a duration/);
            expect(() => cronSchedule(bad)).to.throw(/a scheduled probe runs every N minutes/);
        });
    }

    it("refuses what is not text, and more digits than the caller allows", () => {
        for (const value of [5, null, undefined, ["5m"], { m: 5 }]) {
            expect(parseDuration(value)).to.equal(undefined);
        }
        expect(parseDuration("1234567890s", ["s"], 9)).to.equal(undefined);
        expect(Number.isNaN(durationOf("1234567890s"))).to.equal(true);
        expect(durationOf("123456789s")).to.equal(123_456_789);
    });

    it("gives each reader the same time for the same text", () => {
        const now = new Date("2026-11-27T12:00:00Z");
        expect(durationOf("90m")).to.equal(5400);
        expect(durationMs("90m")).to.equal(5_400_000);
        expect(durationSeconds("90m")).to.equal(5400);
        expect(systemdDuration("90m")).to.equal("90min");
        expect(systemdDuration("30s")).to.equal("30s");
        expect(cronSchedule("15m")).to.equal("*/15 * * * *");
        expect(cronSchedule("2h")).to.equal("0 */2 * * *");
        expect(() => cronSchedule("90m")).to.throw(/N dividing 60/);
        expect(parseWhen("--since", "90m", now).toISOString()).to.equal("2026-11-27T10:30:00.000Z");
        expect(parseWhen("--since", "3d", now).toISOString()).to.equal("2026-11-24T12:00:00.000Z");
        expect(() => parseWhen("--since", "30s", now)).to.throw(/expected a duration back from now/);
    });
});
