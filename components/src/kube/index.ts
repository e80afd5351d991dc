// Re-exported from the package root (components/src/index.ts).
export { REGION_LABEL, standardLabels } from "./labels";
