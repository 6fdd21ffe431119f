import type { Connection, Engine, Profile } from "./engine.ts";
import { ErrorCode, serverError } from "./errors.ts";
import { quoteIdentifier, setStatement } from "./request.ts";

/** An HTTP session (`session_id`): a dedicated engine connection that keeps its SET/USE state. */
interface HttpSession {
  key: string;
  connection: Connection;
  busy: boolean;
  timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  database: string | undefined;
  settings: Map<string, string>;
}

export interface SessionRequest {
  user: string;
  sessionId: string;
  /** session_check=1: the session must exist already. */
  check: boolean;
  timeoutSec: number | undefined;
  profile: Profile;
}

/**
 * The open sessions of all users, keyed by user and session id. A session
 * serves one request at a time (a concurrent one gets SESSION_IS_LOCKED, as
 * in ClickHouse) and is closed after its timeout idle.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, HttpSession>();

  constructor(
    private readonly engine: Engine,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** Runs `work` on the session's connection after applying the request's database and settings. */
  async run<T>(request: SessionRequest, work: (connection: Connection) => Promise<T>): Promise<T> {
    const session = await this.acquire(request);
    try {
      return await this.engine.withSlot(async () => {
        await this.applyProfile(session, request.profile);
        return work(session.connection);
      });
    } finally {
      session.busy = false;
      if (this.sessions.get(session.key) === session) this.touch(session);
      else session.connection.close();
    }
  }

  closeAll(): void {
    for (const session of [...this.sessions.values()]) this.close(session);
  }

  private async acquire(request: SessionRequest): Promise<HttpSession> {
    const key = `${request.user}\u0000${request.sessionId}`;
    let session = this.sessions.get(key);
    if (!session) {
      if (request.check)
        throw serverError(ErrorCode.SESSION_NOT_FOUND, `Session ${request.sessionId} not found`);
      const connection = await this.engine.openDedicated(request.profile);
      session = {
        key,
        connection,
        busy: false,
        timeoutMs: request.timeoutSec !== undefined ? request.timeoutSec * 1000 : this.defaultTimeoutMs,
        timer: undefined,
        database: request.profile.database,
        settings: new Map(request.profile.settings.map(([k, v]) => [k, v])),
      };
      this.sessions.set(key, session);
    } else if (request.timeoutSec !== undefined) {
      session.timeoutMs = request.timeoutSec * 1000;
    }
    if (session.busy) {
      throw serverError(
        ErrorCode.SESSION_IS_LOCKED,
        `Session ${request.sessionId} is locked by a concurrent client`,
      );
    }
    session.busy = true;
    return session;
  }

  /**
   * A session keeps what its SET statements changed; the request's own
   * database and settings are applied on top (and persist, as in a
   * clickhouse-local session).
   */
  private async applyProfile(session: HttpSession, profile: Profile): Promise<void> {
    if (profile.database !== undefined && profile.database !== session.database) {
      await session.connection.query(`USE ${quoteIdentifier(profile.database)}`, "TabSeparated");
      session.database = profile.database;
    }
    const changed = profile.settings.filter(([name, value]) => session.settings.get(name) !== value);
    if (changed.length > 0) {
      await session.connection.query(setStatement(changed), "TabSeparated");
      for (const [name, value] of changed) session.settings.set(name, value);
    }
  }

  private close(session: HttpSession): void {
    if (session.timer) clearTimeout(session.timer);
    this.sessions.delete(session.key);
    if (!session.busy) session.connection.close();
  }

  private touch(session: HttpSession): void {
    if (session.timer) clearTimeout(session.timer);
    session.timer = setTimeout(() => {
      if (!session.busy) this.close(session);
    }, session.timeoutMs);
    session.timer.unref();
  }
}
