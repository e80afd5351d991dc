/**
 * Failover measured on a real control plane, for every profile, against the bound we export
 * (`failoverBoundSeconds`). The rule (issue: real control plane): the bound is never lower than what we
 * measure, and exceeds it by at most 20 %. No wall-clock limit is asserted; the profiles run concurrently,
 * each on its own control plane, so the whole file takes about as long as the slowest profile.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailoverProfile } from "../../components/src";
import { realPartsSkipReason } from "../harness/realParts";
import { measureFailover } from "../harness/failover";

const why = realPartsSkipReason();

describe("failover of a dark site, measured against the exported bound", { skip: why, concurrency: true }, () => {
    for (const profile of Object.values(FailoverProfile)) {
        it(`${profile}: bound ≥ measured and bound ≤ 1.2 × measured`, async (t) => {
            const m = await measureFailover(profile);
            t.diagnostic(`${profile}: NotReady after ${m.notReadyAfterSeconds} s, replicas Ready elsewhere after ${m.measuredSeconds} s, bound ${m.boundSeconds} s`);
            assert.ok(m.notReadyAfterSeconds < m.measuredSeconds, "the site is marked NotReady before its pods are moved");
            assert.ok(m.boundSeconds >= m.measuredSeconds, `${profile}: the bound ${m.boundSeconds} s is lower than the measured ${m.measuredSeconds} s`);
            assert.ok(m.boundSeconds <= 1.2 * m.measuredSeconds, `${profile}: the bound ${m.boundSeconds} s exceeds the measured ${m.measuredSeconds} s by more than 20 %`);
        });
    }
});
