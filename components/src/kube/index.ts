export * from "./labels";
export * from "./provider";
export * from "./certManager";
