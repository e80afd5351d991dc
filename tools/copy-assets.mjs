// Copies the non-TypeScript files the library reads at run time (shell preludes) from src/ to lib/.
// Run from components/ by its build script.
import { cpSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function copy(dir) {
    for (const entry of readdirSync(join("src", dir))) {
        const rel = join(dir, entry);
        if (statSync(join("src", rel)).isDirectory()) copy(rel);
        else if (entry.endsWith(".sh")) cpSync(join("src", rel), join("lib", rel));
    }
}
copy("");
