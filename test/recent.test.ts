import { expect } from "chai";
import { Recent } from "../components/core/recent";

describe("Recent: the values computed lately", () => {
    it("computes a key's value once, keeps at most its bound (the oldest goes), and keeps nothing of a computation that throws", () => {
        const recent = new Recent<string, number>(2);
        let computed = 0;
        const value = (key: string) => recent.get(key, () => ++computed);
        expect([value("a"), value("a"), value("b"), value("a")]).to.deep.equal([1, 1, 2, 1]);
        expect(value("c")).to.equal(3); // "a" goes: the oldest kept
        expect([value("b"), value("c")]).to.deep.equal([2, 3]);
        expect(value("a")).to.equal(4);
        expect(() => recent.get("bad", () => { throw new Error("no"); })).to.throw("no");
        expect(recent.get("bad", () => 5)).to.equal(5);
    });
});
