/**
 * One lab test file's frame: where the lab cannot run (not Linux, not root, tools missing) the suite is
 * skipped with the reason, unless HYBRIDINFRA_REQUIRE_LAB=1 (set by .ci/run), which turns it into a failure;
 * otherwise it takes the machine-wide lab lock, builds the lab before its tests and removes it after them
 * (even when a test failed), releasing the lock last.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { acquireLabLock, labDown, LabState, labUnavailableReason, labUp } from "../../lab/lab";

/** `body` gets a function that returns the running lab's state (valid from the first `before` on). */
export function labSuite(name: string, body: (lab: () => LabState) => void): void {
    const unavailable = labUnavailableReason();
    if (unavailable !== undefined && process.env.HYBRIDINFRA_REQUIRE_LAB === "1") {
        describe(name, () => {
            it("can run here (HYBRIDINFRA_REQUIRE_LAB=1)", () => {
                assert.fail(`the lab tests cannot run: ${unavailable}`);
            });
        });
        return;
    }
    describe(name, { skip: unavailable !== undefined ? `lab unavailable: ${unavailable}` : false }, () => {
        let release: (() => void) | undefined;
        let state: LabState | undefined;
        before(async () => {
            release = await acquireLabLock();
            state = await labUp((l) => console.log(l));
        });
        after(async () => {
            try {
                await labDown((l) => console.log(l));
            } finally {
                release?.();
            }
        });
        body(() => {
            if (state === undefined) throw new Error("the lab is not up (labSuite's before did not run)");
            return state;
        });
    });
}
