/**
 * Synchronous last-chance cleanup of local servers, so a failing test, a thrown error or Ctrl-C
 * never leaves a postgres process or a data directory behind. Hooks are installed while at least
 * one server is live and removed after the last one stops.
 */

type SyncCleanup = () => void;

const liveServers = new Set<SyncCleanup>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function cleanupAll(): void {
  for (const cleanup of [...liveServers]) {
    liveServers.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Keep cleaning the others; the process is going away anyway.
    }
  }
}

function onExit(): void {
  cleanupAll();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAll();
  uninstall();
  // We replaced the default "exit on signal"; restore it unless someone else handles the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', onExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Registers a live server's synchronous cleanup; the returned function unregisters it. */
export function registerForExitCleanup(cleanup: SyncCleanup): () => void {
  liveServers.add(cleanup);
  install();
  return () => {
    liveServers.delete(cleanup);
    if (liveServers.size === 0) uninstall();
  };
}
