/**
 * The stdout line `collector run` prints once both receivers listen:
 * `COLLECTOR_READY {"httpPort":..,"grpcPort":..,"pid":..}`. Launchers (tests,
 * the benchmark) wait for it; it lives apart from cli.ts so importing it does
 * not start the CLI.
 */
export const READY_PREFIX = "COLLECTOR_READY ";
