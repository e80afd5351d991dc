/**
 * Whether a test file that needs real parts (the engine from tools/engine, the control plane from
 * tools/kube, and any extra built files) can run. Without them the file is skipped with the reason, unless
 * HYBRIDINFRA_REQUIRE_ENGINE=1 or HYBRIDINFRA_REQUIRE_CONTROLPLANE=1 (set by .ci/run): then the reason is
 * thrown, so a missing build fails CI instead of passing it silently.
 */
import { existsSync } from "node:fs";
import { BUILD_HINT, missingControlPlaneBinaries } from "./controlplane";
import { engineMissing } from "./engine";

export function realPartsSkipReason(...extraFiles: string[]): string | undefined {
    const required = process.env.HYBRIDINFRA_REQUIRE_ENGINE === "1" || process.env.HYBRIDINFRA_REQUIRE_CONTROLPLANE === "1";
    const missingFile = extraFiles.find((f) => !existsSync(f));
    const why =
        engineMissing() ??
        (missingControlPlaneBinaries().length > 0 ? `control plane binaries missing: ${BUILD_HINT}` : undefined) ??
        (missingFile !== undefined ? `${missingFile} is missing: ${BUILD_HINT}` : undefined);
    if (why !== undefined && required) throw new Error(why);
    return why;
}
