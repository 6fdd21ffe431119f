/**
 * Preloaded (`node --import`) into every process a launcher or the
 * supervisor starts: when the parent dies without stopping its children
 * (a test runner killed on timeout, a supervisor killed with -9), the child
 * is re-parented; it then shuts itself down cleanly with SIGTERM instead of
 * living on as an orphan holding a port and a data directory lock.
 */
const parent = process.ppid;
const timer = setInterval(() => {
  if (process.ppid !== parent) {
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  }
}, 1000);
timer.unref();
