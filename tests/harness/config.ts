import * as assert from "node:assert/strict";
import { ConfigValidationError, parseClusterConfig } from "../../infra/config";
import { planCluster, HybridClusterArgs } from "../../components/src/cluster";

/** Every problem `parseClusterConfig` reports for `cfg` (empty when it is valid). */
export function configProblems(cfg: unknown): string[] {
    try {
        parseClusterConfig(cfg);
    } catch (e) {
        assert.ok(e instanceof ConfigValidationError, `not a config error: ${String(e)}`);
        return [...e.problems];
    }
    return [];
}

/** The message `planCluster` throws for a component spec, or undefined when it composes. */
export function composeMessage(args: HybridClusterArgs): string | undefined {
    try {
        planCluster(args);
    } catch (e) {
        return (e as Error).message;
    }
    return undefined;
}
