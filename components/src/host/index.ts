export * from "./model";
export * from "./connection";
export * from "./script";
export * from "./step";
export * from "./reach";
