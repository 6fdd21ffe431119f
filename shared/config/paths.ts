import path from "node:path";
import { type Env, readString } from "./env.ts";

export interface PathsConfig {
  /** Root of everything the local stack keeps on disk. */
  dataDir: string;
  /** One log file per supervised process lives here. */
  logDir: string;
}

export function readPathsConfig(env: Env = process.env): PathsConfig {
  const dataDir = path.resolve(readString(env, "CLICKAI_DATA_DIR", "data"));
  const logDir = path.resolve(readString(env, "CLICKAI_LOG_DIR", path.join(dataDir, "logs")));
  return { dataDir, logDir };
}
