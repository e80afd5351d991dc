export * from "./model";
export * from "./plan";
export * from "./tunnel";
