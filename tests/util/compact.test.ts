import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { compact } from "../../components/src/util/compact";

/** `true` only when A and B are the same type (optional modifiers included). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe("compact", () => {
    it("drops the keys whose value is undefined", () => {
        const port: number | undefined = undefined;
        const r = compact({ port, user: "root", hostKey: undefined });
        assert.deepEqual(r, { user: "root" });
        assert.deepEqual(Object.keys(r), ["user"]);
        assert.equal("port" in r, false);
    });

    it("keeps null, false, 0, \"\" and NaN", () => {
        const r = compact({ a: null, b: false, c: 0, d: "", e: Number.NaN, f: undefined });
        assert.deepEqual(r, { a: null, b: false, c: 0, d: "", e: Number.NaN });
    });

    it("keeps the key order, and spreads in place of the conditional spreads", () => {
        const h: { port?: number; user?: string; hostKey?: string; jumpHost?: string } = { hostKey: "ssh-ed25519 AAAA", port: 2222, jumpHost: "hub" };
        const r = { name: "a", ...compact({ port: h.port, user: h.user, hostKey: h.hostKey, jumpHost: h.jumpHost }), location: "home" };
        assert.deepEqual(Object.keys(r), ["name", "port", "hostKey", "jumpHost", "location"]);
        assert.equal(JSON.stringify(r), '{"name":"a","port":2222,"hostKey":"ssh-ed25519 AAAA","jumpHost":"hub","location":"home"}');
    });

    it("copies shallowly: nested objects are kept as they are, undefined inside them too", () => {
        const nested = { x: undefined };
        const r = compact({ nested, list: [undefined] });
        assert.equal(r.nested, nested);
        assert.deepEqual(r.list, [undefined]);
    });

    it("types a possibly-undefined key as optional without undefined, the others as they are", () => {
        const maybe = (): string | undefined => undefined;
        const r = compact({ s: maybe(), n: 1, z: null });
        const exact: Equal<typeof r, { s?: string; n: number; z: null }> = true;
        assert.deepEqual(r, { n: 1, z: null });
        assert.equal(exact, true);
    });
});
