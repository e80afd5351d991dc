export * from "./model";
export * from "./validate";
export * from "./keys";
export * from "./plan";
export * from "./render";
export * from "./node";
export * from "./mesh";
export * from "./operator";
