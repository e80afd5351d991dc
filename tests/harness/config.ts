import * as assert from "node:assert/strict";
import { ConfigValidationError, parseClusterConfig } from "../../infra/config";

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
