import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const DIR = path.join(__dirname, "__snapshots__");

/**
 * Compares `text` with the committed file `__snapshots__/<name>`. `UPDATE_SNAPSHOTS=1` rewrites the file
 * instead; a missing file is a failure (never a silent pass), so a new snapshot must be reviewed and committed.
 */
export function assertSnapshot(name: string, text: string): void {
    const file = path.join(DIR, name);
    if (process.env.UPDATE_SNAPSHOTS === "1") {
        fs.mkdirSync(DIR, { recursive: true });
        fs.writeFileSync(file, text);
        return;
    }
    if (!fs.existsSync(file)) {
        assert.fail(`snapshot ${name} is missing; run UPDATE_SNAPSHOTS=1 node tests/run.mjs tests/k3s, review and commit ${path.relative(process.cwd(), file)}`);
    }
    assert.equal(text, fs.readFileSync(file, "utf8"), `snapshot ${name} differs (UPDATE_SNAPSHOTS=1 rewrites it after review)`);
}
