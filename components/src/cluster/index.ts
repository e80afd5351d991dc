export * from "./types";
export * from "./plan";
export * from "./component";
export * from "./reach";
export * from "./consistency";
export * from "./removal";
