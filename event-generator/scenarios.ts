/**
 * The requests of a sneaker drop, each as the distributed trace the SNKRS
 * platform would record for it. Faults come from the load-driven model in
 * latency.ts and from the drop's state (stock, existing entries); each one is
 * marked on the builder for the ground-truth file and surfaces in the spans
 * only the way a real failure would (status, exception, HTTP/gRPC codes).
 */

import {
  grpcCall,
  httpCall,
  kafkaProcess,
  kafkaSend,
  makeError,
  pgPoolConnect,
  pspIntentSpan,
  redisCommand,
  type SqlSpec,
  sqlQuery,
  upstreamFailure,
} from "./calls.ts";
import {
  CATALOG,
  DATASTORES,
  DROP_PRODUCT,
  type Platform,
  PSP,
  PUSH_PROVIDERS,
  SERVICES,
  type ServiceKey,
  SIZE_WEIGHTS,
  SIZES,
} from "./catalog.ts";
import type { DropPhase, ScenarioName } from "./config.ts";
import type { FaultType } from "./faults.ts";
import { faultChance, type Incident } from "./incident.ts";
import {
  cacheMissProbability,
  FRAUD_DECLINE_THRESHOLD,
  type LatencyModel,
  PSP_TIMEOUT_MS,
  paymentTimeoutProbability,
  poolExhaustionProbability,
  rateLimitProbability,
} from "./latency.ts";
import type { Prng } from "./prng.ts";
import { OK, type Outcome, type SpanHandle, type TraceBuilder } from "./trace-plan.ts";

/** A user session: one simulated worker issues its requests as this user. */
export interface Session {
  userId: string;
  isBot: boolean;
  platform: Platform;
  userAgent: string;
  clientAddress: string;
  /** Remaining requests before the session ends and the worker becomes someone else. */
  requestsLeft: number;
}

/** What a drop remembers between requests; reset at every cycle. */
export interface DropState {
  cycle: number;
  dropId: string;
  drawId: string;
  stockBySize: number[];
  /** Simulated time (ms) at which the last pair was reserved, once it happened. */
  soldOutAtMs?: number;
  entries: Set<string>;
  ordersByUser: Map<string, string>;
  orderSeq: number;
  kafkaOffset: number;
}

export interface RequestContext {
  b: TraceBuilder;
  prng: Prng;
  lat: LatencyModel;
  phase: DropPhase;
  session: Session;
  state: DropState;
  /** Simulated time of the request start (ms from the run start). */
  nowMs: number;
  /** The incident under way when the request started, if any. */
  incident?: Incident | undefined;
}

/** Draws whether `fault` originates in `service` now: the model's `chance`, or the incident's rate during one. */
function faultHappens(ctx: RequestContext, fault: FaultType, service: ServiceKey, chance: number): boolean {
  return ctx.prng.chance(faultChance(ctx.incident, fault, service, chance));
}

/**
 * For faults the drop's state decides (sold out, a second entry): whether an
 * incident of that fault forces one. Draws nothing outside such an incident,
 * so runs without incidents keep their random sequence.
 */
function incidentForces(ctx: RequestContext, fault: FaultType, service: ServiceKey): boolean {
  const chance = faultChance(ctx.incident, fault, service, 0);
  return chance > 0 && ctx.prng.chance(chance);
}

function totalStock(state: DropState): number {
  let total = 0;
  for (const count of state.stockBySize) total += count;
  return total;
}

/** Acquires a pg connection; on exhaustion records the fault and returns the 503 the service answers. */
function withConnection(
  ctx: RequestContext,
  h: SpanHandle,
  store: keyof typeof DATASTORES,
): Outcome | undefined {
  const exhausted = faultHappens(
    ctx,
    "db_pool_exhausted",
    h.service,
    poolExhaustionProbability(ctx.lat.load),
  );
  const failed = pgPoolConnect(h, ctx.lat, store, exhausted);
  if (!failed) return undefined;
  ctx.b.fault("db_pool_exhausted", [failed, h], false);
  return {
    status: 503,
    error: makeError(
      h.service,
      "DatabaseUnavailableError",
      `no connection available in pool ${DATASTORES[store].namespace}@${DATASTORES[store].host}`,
    ),
  };
}

/** A query through the pool: returns a failed outcome when no connection could be had. */
function query(
  ctx: RequestContext,
  h: SpanHandle,
  store: keyof typeof DATASTORES,
  spec: SqlSpec,
): Outcome | undefined {
  const failure = withConnection(ctx, h, store);
  if (failure) return failure;
  sqlQuery(h, ctx.lat, store, spec);
  return undefined;
}

/**
 * Cache-aside read: GET, and on a miss load from the database and SET. A miss
 * is handled (slower, not an error) unless the fallback itself fails.
 */
function cacheAside(
  ctx: RequestContext,
  h: SpanHandle,
  cache: keyof typeof DATASTORES,
  key: string,
  baseMiss: number,
  load: () => Outcome | undefined,
): Outcome | undefined {
  const get = redisCommand(h, ctx.lat, cache, "GET", `GET ${key}`);
  if (!faultHappens(ctx, "cache_miss", h.service, cacheMissProbability(baseMiss, ctx.lat.load)))
    return undefined;
  ctx.b.fault("cache_miss", [get], true);
  const failure = load();
  if (failure) return failure;
  redisCommand(h, ctx.lat, cache, "SET", `SET ${key} ? EX 300`);
  return undefined;
}

function businessAttributes(ctx: RequestContext): Record<string, string> {
  return { "user.id": ctx.session.userId, "drop.phase": ctx.phase, "drop.id": ctx.state.dropId };
}

/** Session check at the edge: auth-service VerifyToken over gRPC. */
function verifyToken(ctx: RequestContext, root: SpanHandle): Outcome {
  return grpcCall(
    root,
    ctx.lat,
    "auth",
    "snkrs.auth.v1.AuthService",
    "VerifyToken",
    (server) => {
      const failure = cacheAside(ctx, server, "sessionCache", `session:${ctx.session.userId}`, 0.03, () =>
        query(ctx, server, "accountsDb", {
          operation: "SELECT",
          table: "sessions",
          statement: "SELECT user_id, expires_at, scopes FROM sessions WHERE token_hash = $1",
          medianMs: 2.5,
        }),
      );
      if (failure) return failure;
      if (!ctx.session.isBot && faultHappens(ctx, "auth_expired", "auth", 0.006)) {
        ctx.b.fault("auth_expired", [server], false);
        return {
          status: 401,
          error: makeError("auth", "TokenExpiredError", "jwt expired"),
        };
      }
      server.work(ctx.lat.work(0.2));
      return OK;
    },
    { "user.id": ctx.session.userId },
  );
}

interface GatewayRoute {
  method: string;
  route: string;
  path: string;
  authenticated: boolean;
  attributes?: Record<string, string | number>;
}

/**
 * The edge: every user request enters here. Bot shield and rate limiter run
 * first, then the session check, then the route's handler. The root span
 * answers with the status the user saw and is ERROR when the request failed.
 */
function gatewayRequest(
  ctx: RequestContext,
  route: GatewayRoute,
  handler: (root: SpanHandle) => Outcome,
): number {
  const { b, lat, session } = ctx;
  const root = b.root({
    service: "gateway",
    scope: "http",
    name: `${route.method} ${route.route}`,
    kind: "SERVER",
    attributes: {
      "http.request.method": route.method,
      "http.route": route.route,
      "url.path": route.path,
      "url.scheme": "https",
      "server.address": SERVICES.gateway.host,
      "server.port": 443,
      "network.protocol.version": "2",
      "client.address": session.clientAddress,
      "user_agent.original": session.userAgent,
      "app.platform": session.platform,
      ...businessAttributes(ctx),
      ...route.attributes,
    },
  });
  root.work(lat.work(0.4));
  const outcome = ((): Outcome => {
    const shield = root.leaf(
      {
        scope: "app",
        name: "bot_shield.evaluate",
        kind: "INTERNAL",
        attributes: { "http.route": route.route },
      },
      lat.work(0.6),
    );
    if (faultHappens(ctx, "bot_detected", "gateway", session.isBot ? 0.8 : 0.0015)) {
      const error = makeError(
        "gateway",
        "BotDetectedError",
        "request blocked by bot shield: automation signature matched",
      );
      shield.fail(error);
      b.fault("bot_detected", [shield, root], false);
      return { status: 403, error };
    }
    if (
      route.method !== "GET" &&
      faultHappens(ctx, "rate_limited", "gateway", rateLimitProbability(lat.load, session.isBot))
    ) {
      b.fault("rate_limited", [root], false);
      return {
        status: 429,
        error: makeError("gateway", "RateLimitExceededError", `rate limit exceeded for ${route.route}`),
      };
    }
    if (route.authenticated) {
      const auth = verifyToken(ctx, root);
      if (auth.status >= 400)
        return upstreamFailure("gateway", "auth", auth, auth.status === 401 ? 401 : 503);
    }
    return handler(root);
  })();
  root.work(lat.work(0.3));
  root.set("http.response.status_code", outcome.status);
  if (outcome.status >= 400) {
    root.set("error.type", String(outcome.status));
    root.fail(outcome.error ?? makeError("gateway", "HttpError", `${outcome.status}`));
  }
  root.end();
  return outcome.status;
}

/** The gateway forwards to a backend over HTTP and answers with what it said. */
function forward(
  ctx: RequestContext,
  root: SpanHandle,
  target: Parameters<typeof httpCall>[2],
  spec: Parameters<typeof httpCall>[3],
  handler: (server: SpanHandle) => Outcome,
): Outcome {
  const result = httpCall(root, ctx.lat, target, spec, handler);
  if (result.status < 400) return result;
  return upstreamFailure("gateway", target, result, result.status);
}

function pickSku(ctx: RequestContext): string {
  if (ctx.phase === "DROP_LIVE" ? ctx.prng.chance(0.85) : ctx.prng.chance(0.3)) return DROP_PRODUCT.sku;
  return ctx.prng.pick(CATALOG).sku;
}

const SIZE_MIX = Object.fromEntries(SIZES.map((_size, i) => [String(i), SIZE_WEIGHTS[i] ?? 1])) as Record<
  string,
  number
>;

/** Index into SIZES, weighted like demand (mid sizes are what most people wear). */
function pickSize(prng: Prng): number {
  return Number(prng.weighted(SIZE_MIX));
}

function availability(ctx: RequestContext, caller: SpanHandle, sku: string): Outcome {
  return grpcCall(
    caller,
    ctx.lat,
    "inventory",
    "snkrs.inventory.v1.InventoryService",
    "GetAvailability",
    (server) => {
      redisCommand(server, ctx.lat, "inventoryCache", "HGETALL", `HGETALL stock:${sku}`);
      if (sku === DROP_PRODUCT.sku) server.set("inventory.available", totalStock(ctx.state));
      return OK;
    },
    { "product.sku": sku },
  );
}

function browseFeed(ctx: RequestContext): number {
  const platform = ctx.session.platform;
  return gatewayRequest(
    ctx,
    { method: "GET", route: "/api/v2/feed", path: "/api/v2/feed", authenticated: true },
    (root) =>
      forward(
        ctx,
        root,
        "feed",
        { method: "GET", route: "/feed", path: `/feed?platform=${platform}` },
        (server) => {
          const failure = cacheAside(ctx, server, "catalogCache", `feed:home:${platform}`, 0.05, () => {
            const listed = grpcCall(
              server,
              ctx.lat,
              "catalog",
              "snkrs.catalog.v1.CatalogService",
              "ListFeatured",
              (catalog) =>
                query(ctx, catalog, "catalogDb", {
                  operation: "SELECT",
                  table: "products",
                  statement:
                    "SELECT sku, name, price, launch_at FROM products WHERE featured = true ORDER BY launch_at DESC LIMIT $1",
                  medianMs: 4,
                }) ?? OK,
            );
            return listed.status >= 400 ? upstreamFailure("feed", "catalog", listed, 503) : undefined;
          });
          if (failure) return failure;
          server.work(ctx.lat.work(1.2));
          server.set("feed.items", 24);
          return OK;
        },
      ),
  );
}

function viewProduct(ctx: RequestContext): number {
  const sku = pickSku(ctx);
  return gatewayRequest(
    ctx,
    {
      method: "GET",
      route: "/api/v1/products/{sku}",
      path: `/api/v1/products/${sku}`,
      authenticated: false,
      attributes: { "product.sku": sku },
    },
    (root) =>
      forward(
        ctx,
        root,
        "catalog",
        {
          method: "GET",
          route: "/products/{sku}",
          path: `/products/${sku}`,
          serverAttributes: { "product.sku": sku },
        },
        (server) => {
          const failure = cacheAside(ctx, server, "catalogCache", `product:${sku}`, 0.04, () =>
            query(ctx, server, "catalogDb", {
              operation: "SELECT",
              table: "products",
              statement: "SELECT sku, name, price, colorway, launch_at, images FROM products WHERE sku = $1",
              medianMs: 3,
            }),
          );
          if (failure) return failure;
          const stock = availability(ctx, server, sku);
          if (stock.status >= 400) return upstreamFailure("catalog", "inventory", stock, 503);
          return OK;
        },
      ),
  );
}

function login(ctx: RequestContext): number {
  return gatewayRequest(
    ctx,
    { method: "POST", route: "/api/v1/auth/login", path: "/api/v1/auth/login", authenticated: false },
    (root) =>
      forward(ctx, root, "auth", { method: "POST", route: "/auth/login", path: "/auth/login" }, (server) => {
        const failure = query(ctx, server, "accountsDb", {
          operation: "SELECT",
          table: "users",
          statement: "SELECT id, password_hash, status FROM users WHERE email = $1",
          medianMs: 2.5,
        });
        if (failure) return failure;
        server.leaf({ scope: "app", name: "bcrypt.compare", kind: "INTERNAL" }, ctx.lat.work(55, 0.15));
        redisCommand(server, ctx.lat, "sessionCache", "SET", `SET session:${ctx.session.userId} ? EX 86400`);
        return OK;
      }),
  );
}

function enterDraw(ctx: RequestContext): number {
  const { state, session } = ctx;
  const size = SIZES[pickSize(ctx.prng)]!;
  return gatewayRequest(
    ctx,
    {
      method: "POST",
      route: "/api/v1/draws/{drawId}/entries",
      path: `/api/v1/draws/${state.drawId}/entries`,
      authenticated: true,
      attributes: { "product.sku": DROP_PRODUCT.sku, "draw.id": state.drawId },
    },
    (root) =>
      forward(
        ctx,
        root,
        "draw",
        {
          method: "POST",
          route: "/draws/{drawId}/entries",
          path: `/draws/${state.drawId}/entries`,
          serverAttributes: {
            "draw.id": state.drawId,
            "user.id": session.userId,
            "product.sku": DROP_PRODUCT.sku,
            "product.size": size,
          },
        },
        (server) => {
          const failure = withConnection(ctx, server, "drawsDb");
          if (failure) return failure;
          // During an incident the app submits twice (a retried request whose first attempt got through).
          const duplicate =
            state.entries.has(session.userId) || incidentForces(ctx, "duplicate_entry", "draw");
          const insert = sqlQuery(server, ctx.lat, "drawsDb", {
            operation: "INSERT",
            table: "draw_entries",
            statement:
              "INSERT INTO draw_entries (draw_id, user_id, size, entered_at) VALUES ($1, $2, $3, now())",
            medianMs: 3.5,
            ...(duplicate
              ? {
                  failure: {
                    code: "23505",
                    type: "DatabaseError",
                    message:
                      'duplicate key value violates unique constraint "draw_entries_draw_id_user_id_key"',
                  },
                }
              : {}),
          });
          if (duplicate) {
            ctx.b.fault("duplicate_entry", [insert, server], false);
            return {
              status: 409,
              error: makeError(
                "draw",
                "DuplicateEntryError",
                `user ${session.userId} already entered draw ${state.drawId}`,
              ),
            };
          }
          state.entries.add(session.userId);
          kafkaSend(server, ctx.lat, "draw.entries", session.userId, { "draw.id": state.drawId });
          return { status: 201 };
        },
      ),
  );
}

/** Push delivery to the user's device; returns the failed push span, if any. */
function sendPush(
  ctx: RequestContext,
  consumer: SpanHandle,
  platform: Platform,
  failureBoost: number,
): SpanHandle | undefined {
  const provider = PUSH_PROVIDERS[platform === "android" ? "android" : "ios"];
  const failed = faultHappens(ctx, "push_failed", "notification", 0.015 + failureBoost);
  const status = failed ? ctx.prng.pick([410, 429, 503]) : 200;
  const span = consumer.child(
    {
      scope: "http",
      name: `POST ${provider.route}`,
      kind: "CLIENT",
      attributes: {
        "http.request.method": "POST",
        "url.full": `https://${provider.host}${provider.route.replace("{token}", ctx.prng.hex(8))}`,
        "server.address": provider.host,
        "server.port": provider.port,
        "network.protocol.version": "2",
        "http.response.status_code": status,
      },
    },
    (push) => {
      push.work(ctx.lat.external(failed && status === 503 ? 900 : 70, 0.4));
      return push;
    },
  );
  if (!failed) return undefined;
  span.set("error.type", String(status));
  const reason = status === 410 ? "Unregistered" : status === 429 ? "TooManyRequests" : "ServiceUnavailable";
  span.fail(
    makeError(
      "notification",
      "PushDeliveryError",
      `push provider ${provider.host} answered ${status} ${reason}`,
    ),
  );
  return span;
}

/** notification-service consuming an event and pushing it to the user's devices. */
function notifyUser(
  ctx: RequestContext,
  producer: SpanHandle,
  topic: string,
  userId: string,
  platform: Platform,
): void {
  const offset = ctx.state.kafkaOffset++;
  kafkaProcess(producer, ctx.lat, "notification", topic, offset, (consumer) => {
    consumer.set("user.id", userId);
    sqlQuery(consumer, ctx.lat, "notificationsDb", {
      operation: "SELECT",
      table: "device_tokens",
      statement: "SELECT token, platform FROM device_tokens WHERE user_id = $1 AND active",
      medianMs: 1.8,
    });
    // Bursts of pushes during the drop get throttled by the providers now and then.
    const failed = sendPush(ctx, consumer, platform, ctx.phase === "DROP_LIVE" ? 0.02 : 0);
    if (failed) {
      consumer.fail(
        makeError(
          "notification",
          "NotificationDeliveryError",
          `delivery to ${userId} failed; message sent to retry topic`,
        ),
      );
      ctx.b.fault("push_failed", [failed, consumer], true);
    }
  });
}

function paymentAuthorize(ctx: RequestContext, checkout: SpanHandle, amount: number): Outcome {
  const { lat, session } = ctx;
  return grpcCall(
    checkout,
    lat,
    "payment",
    "snkrs.payment.v1.PaymentService",
    "Authorize",
    (server) => {
      const refused = scoreFraud(ctx, server, amount);
      if (refused) return refused;
      const { timeouts, declined } = callPaymentProvider(ctx, server);
      const failed = paymentProviderFailure(ctx, server, timeouts, declined);
      if (failed) return failed;
      const failure = query(ctx, server, "paymentsDb", {
        operation: "INSERT",
        table: "payments",
        statement:
          "INSERT INTO payments (order_ref, user_id, amount, currency, psp_intent_id, status) VALUES ($1, $2, $3, $4, $5, 'authorized')",
        medianMs: 3.5,
      });
      return failure ?? OK;
    },
    { "user.id": session.userId, "payment.amount": amount, "payment.currency": "USD" },
  );
}

/** The fraud service scores the payment; a high score declines it (403). */
function scoreFraud(ctx: RequestContext, server: SpanHandle, amount: number): Outcome | undefined {
  const { prng, lat, session } = ctx;
  let fraudServer: SpanHandle | undefined;
  let score = 0;
  const fraud = grpcCall(
    server,
    lat,
    "fraud",
    "snkrs.fraud.v1.FraudService",
    "Score",
    (fs) => {
      fraudServer = fs;
      redisCommand(fs, lat, "fraudFeatures", "HGETALL", `HGETALL features:user:${session.userId}`);
      fs.leaf(
        {
          scope: "app",
          name: "fraud.model.predict",
          kind: "INTERNAL",
          attributes: { "fraud.model.version": "gbm-2026.11" },
        },
        lat.work(9, 0.3),
      );
      // The decline is payment-service's decision (where the fault originates), on fraud-service's score.
      const high = faultHappens(ctx, "fraud_high", "payment", session.isBot ? 0.35 : 0.012);
      score = high ? prng.uniform(FRAUD_DECLINE_THRESHOLD, 0.995) : Math.min(0.84, prng.exponential(0.08));
      fs.set("fraud.score", Math.round(score * 1000) / 1000);
      return OK;
    },
    { "user.id": session.userId, "payment.amount": amount },
  );
  if (fraud.status >= 400) return upstreamFailure("payment", "fraud", fraud, 503);
  if (score >= FRAUD_DECLINE_THRESHOLD) {
    ctx.b.fault("fraud_high", [server, ...(fraudServer ? [fraudServer] : [])], false);
    return {
      status: 403,
      error: makeError(
        "payment",
        "FraudDeclinedError",
        `risk score ${score.toFixed(3)} above decline threshold ${FRAUD_DECLINE_THRESHOLD}`,
      ),
    };
  }
  return undefined;
}

/** Calls the payment provider: a timeout on the first of two attempts is retried; the issuer may decline. */
function callPaymentProvider(
  ctx: RequestContext,
  server: SpanHandle,
): { timeouts: SpanHandle[]; declined: SpanHandle | undefined } {
  const { prng, lat, session } = ctx;
  // Up to two attempts at the PSP; a timeout on the first is retried.
  const timeouts: SpanHandle[] = [];
  let declined: SpanHandle | undefined;
  const timeoutChance = faultChance(
    ctx.incident,
    "payment_timeout",
    "payment",
    paymentTimeoutProbability(lat.load),
  );
  for (let attempt = 1; attempt <= 2; attempt++) {
    const timedOut = prng.chance(timeoutChance);
    const psp = server.child(pspIntentSpan(attempt), (span) => {
      span.work(timedOut ? PSP_TIMEOUT_MS + prng.uniform(0, 4) : lat.external(190, 0.35));
      return span;
    });
    if (!timedOut) {
      // The issuer says no now and then (insufficient funds, card blocked): the PSP answers 402.
      if (faultHappens(ctx, "payment_declined", "payment", session.isBot ? 0.08 : 0.02)) {
        psp.set("http.response.status_code", 402);
        psp.set("error.type", "402");
        psp.fail(makeError("payment", "HTTPError", "Request failed with status code 402 (card_declined)"));
        declined = psp;
      } else {
        psp.set("http.response.status_code", 200);
      }
      break;
    }
    psp.set("error.type", "TimeoutError");
    psp.fail(
      makeError(
        "payment",
        "TimeoutError",
        `The operation was aborted due to timeout (${PSP_TIMEOUT_MS} ms, ${PSP.host})`,
      ),
    );
    timeouts.push(psp);
    server.work(80 + prng.uniform(0, 40));
  }
  return { timeouts, declined };
}

/** The answer when the payment provider timed out twice or declined; records the faults. */
function paymentProviderFailure(
  ctx: RequestContext,
  server: SpanHandle,
  timeouts: SpanHandle[],
  declined: SpanHandle | undefined,
): Outcome | undefined {
  if (timeouts.length === 2) {
    ctx.b.fault("payment_timeout", [...timeouts, server], false);
    return {
      status: 504,
      error: makeError(
        "payment",
        "PaymentProviderTimeoutError",
        `payment provider did not answer after 2 attempts`,
      ),
    };
  }
  if (timeouts.length === 1) ctx.b.fault("payment_timeout", timeouts, true);
  if (declined) {
    ctx.b.fault("payment_declined", [declined, server], false);
    return {
      status: 402,
      error: makeError(
        "payment",
        "CardDeclinedError",
        "the card issuer declined the payment (card_declined)",
      ),
    };
  }
  return undefined;
}

function reserveStock(ctx: RequestContext, checkout: SpanHandle, sizeIndex: number): Outcome {
  const { state, lat, prng } = ctx;
  const size = SIZES[sizeIndex]!;
  return grpcCall(
    checkout,
    lat,
    "inventory",
    "snkrs.inventory.v1.InventoryService",
    "Reserve",
    (server) => {
      const script = redisCommand(
        server,
        lat,
        "inventoryCache",
        "EVALSHA",
        `EVALSHA reserve_stock 1 stock:${DROP_PRODUCT.sku}:${size} 1`,
      );
      const left = state.stockBySize[sizeIndex] ?? 0;
      // During an incident the stock counter says sold out although pairs are left (a stale replica).
      if (left <= 0 || incidentForces(ctx, "sold_out", "inventory")) {
        ctx.b.fault("sold_out", [server, script], false);
        server.set("inventory.available", 0);
        return {
          status: 409,
          grpcCode: 9,
          error: makeError("inventory", "SoldOutError", `SKU ${DROP_PRODUCT.sku} size ${size} is sold out`),
        };
      }
      const failure = withConnection(ctx, server, "inventoryDb");
      if (failure) return failure;
      // Everyone wants the same rows: under load the UPDATE queues on the row lock.
      const contended = faultHappens(
        ctx,
        "db_lock_contention",
        "inventory",
        Math.min(0.5, 0.25 * lat.load ** 2),
      );
      const update = sqlQuery(server, lat, "inventoryDb", {
        operation: "UPDATE",
        table: "inventory",
        statement:
          "UPDATE inventory SET reserved = reserved + 1 WHERE sku = $1 AND size = $2 AND reserved < quantity",
        medianMs: 3,
        ...(contended ? { lockWaitMs: prng.uniform(250, 1400) } : {}),
      });
      if (contended) ctx.b.fault("db_lock_contention", [update], true);
      state.stockBySize[sizeIndex] = left - 1;
      const remaining = totalStock(state);
      if (remaining === 0 && state.soldOutAtMs === undefined) state.soldOutAtMs = ctx.nowMs + server.cursor;
      server.set("inventory.available", remaining);
      return OK;
    },
    { "product.sku": DROP_PRODUCT.sku, "product.size": size },
  );
}

function releaseStock(ctx: RequestContext, checkout: SpanHandle, sizeIndex: number): void {
  const size = SIZES[sizeIndex]!;
  grpcCall(
    checkout,
    ctx.lat,
    "inventory",
    "snkrs.inventory.v1.InventoryService",
    "Release",
    (server) => {
      redisCommand(server, ctx.lat, "inventoryCache", "INCRBY", `INCRBY stock:${DROP_PRODUCT.sku}:${size} 1`);
      ctx.state.stockBySize[sizeIndex] = (ctx.state.stockBySize[sizeIndex] ?? 0) + 1;
      return OK;
    },
    { "product.sku": DROP_PRODUCT.sku, "product.size": size },
  );
}

function createOrder(ctx: RequestContext, checkout: SpanHandle, orderId: string, size: string): Outcome {
  const { session, lat } = ctx;
  return httpCall(
    checkout,
    lat,
    "order",
    {
      method: "POST",
      route: "/orders",
      path: "/orders",
      serverAttributes: { "order.id": orderId, "user.id": session.userId, "product.sku": DROP_PRODUCT.sku },
    },
    (server) => {
      const failure = query(ctx, server, "ordersDb", {
        operation: "INSERT",
        table: "orders",
        statement:
          "INSERT INTO orders (id, user_id, sku, size, amount, status, created_at) VALUES ($1, $2, $3, $4, $5, 'confirmed', now())",
        medianMs: 4,
      });
      if (failure) return failure;
      const producer = kafkaSend(server, lat, "order.created", orderId, { "order.id": orderId });
      notifyUser(ctx, producer, "order.created", session.userId, session.platform);
      server.set("product.size", size);
      return { status: 201 };
    },
  );
}

function checkout(ctx: RequestContext): number {
  const { state, session, prng } = ctx;
  const sizeIndex = pickSize(prng);
  const size = SIZES[sizeIndex]!;
  const amount = DROP_PRODUCT.priceUsd;
  return gatewayRequest(
    ctx,
    {
      method: "POST",
      route: "/api/v1/checkout",
      path: "/api/v1/checkout",
      authenticated: true,
      attributes: { "product.sku": DROP_PRODUCT.sku, "product.size": size },
    },
    (root) =>
      forward(
        ctx,
        root,
        "checkout",
        {
          method: "POST",
          route: "/checkout",
          path: "/checkout",
          serverAttributes: {
            "user.id": session.userId,
            "product.sku": DROP_PRODUCT.sku,
            "product.size": size,
            "payment.amount": amount,
            "drop.id": state.dropId,
          },
        },
        (server) => {
          const reserved = reserveStock(ctx, server, sizeIndex);
          if (reserved.status >= 400) return upstreamFailure("checkout", "inventory", reserved);
          const paid = paymentAuthorize(ctx, server, amount);
          if (paid.status >= 400) {
            releaseStock(ctx, server, sizeIndex);
            return upstreamFailure(
              "checkout",
              "payment",
              paid,
              paid.status === 403 || paid.status === 402 ? 402 : paid.status === 504 ? 502 : 503,
            );
          }
          state.orderSeq += 1;
          const orderId = `SNK-${state.cycle + 1}-${String(state.orderSeq).padStart(6, "0")}`;
          const order = createOrder(ctx, server, orderId, size);
          if (order.status >= 400) {
            releaseStock(ctx, server, sizeIndex);
            return upstreamFailure("checkout", "order", order, 503);
          }
          state.ordersByUser.set(session.userId, orderId);
          server.set("order.id", orderId);
          return { status: 201 };
        },
      ),
  );
}

function orderStatus(ctx: RequestContext): number {
  const { state, session } = ctx;
  const orderId = state.ordersByUser.get(session.userId);
  const route = orderId ? "/api/v1/orders/{orderId}" : "/api/v1/orders";
  const path = orderId ? `/api/v1/orders/${orderId}` : "/api/v1/orders";
  return gatewayRequest(
    ctx,
    { method: "GET", route, path, authenticated: true, attributes: orderId ? { "order.id": orderId } : {} },
    (root) =>
      forward(
        ctx,
        root,
        "order",
        {
          method: "GET",
          route: orderId ? "/orders/{orderId}" : "/orders",
          path: orderId ? `/orders/${orderId}` : `/orders?user=${session.userId}`,
          serverAttributes: { "user.id": session.userId, ...(orderId ? { "order.id": orderId } : {}) },
        },
        (server) =>
          query(ctx, server, "ordersDb", {
            operation: "SELECT",
            table: "orders",
            statement: orderId
              ? "SELECT id, status, sku, size, amount, shipped_at FROM orders WHERE id = $1 AND user_id = $2"
              : "SELECT id, status, sku, created_at FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20",
            medianMs: 2.5,
          }) ?? OK,
      ),
  );
}

function drawResults(ctx: RequestContext): number {
  const { state, session } = ctx;
  return gatewayRequest(
    ctx,
    {
      method: "GET",
      route: "/api/v1/draws/{drawId}/entries/me",
      path: `/api/v1/draws/${state.drawId}/entries/me`,
      authenticated: true,
      attributes: { "draw.id": state.drawId },
    },
    (root) =>
      forward(
        ctx,
        root,
        "draw",
        {
          method: "GET",
          route: "/draws/{drawId}/entries/me",
          path: `/draws/${state.drawId}/entries/me`,
          serverAttributes: { "draw.id": state.drawId, "user.id": session.userId },
        },
        (server) =>
          cacheAside(ctx, server, "catalogCache", `draw:${state.drawId}:result:${session.userId}`, 0.3, () =>
            query(ctx, server, "drawsDb", {
              operation: "SELECT",
              table: "draw_entries",
              statement:
                "SELECT status, size, selected_at FROM draw_entries WHERE draw_id = $1 AND user_id = $2",
              medianMs: 2.5,
            }),
          ) ?? OK,
      ),
  );
}

export const SCENARIOS: Record<ScenarioName, (ctx: RequestContext) => number> = {
  browse_feed: browseFeed,
  view_product: viewProduct,
  login,
  enter_draw: enterDraw,
  checkout,
  order_status: orderStatus,
  draw_results: drawResults,
};

const MAX_NOTIFIED_PER_JOB = 25;

/**
 * The winner selection that closes the draw (once per cycle, when POST_DROP
 * starts): a job in draw-service, not a user request. It publishes the
 * results in batches; notification-service pushes each to the winner.
 */
export function drawWinnerJob(
  ctx: RequestContext,
  winners: readonly { userId: string; platform: Platform }[],
): void {
  const { b, lat, state } = ctx;
  const root = b.root({
    service: "draw",
    scope: "app",
    name: "draw.select_winners",
    kind: "INTERNAL",
    attributes: {
      "draw.id": state.drawId,
      "drop.id": state.dropId,
      "drop.phase": ctx.phase,
      "product.sku": DROP_PRODUCT.sku,
      "draw.entries": state.entries.size,
      "draw.winners": winners.length,
    },
  });
  // The first wave of winner notifications rides in this trace; later waves are separate jobs.
  const notified = winners.slice(0, MAX_NOTIFIED_PER_JOB);
  sqlQuery(root, lat, "drawsDb", {
    operation: "SELECT",
    table: "draw_entries",
    statement: "SELECT user_id, size FROM draw_entries WHERE draw_id = $1 AND status = 'entered'",
    medianMs: 40,
  });
  root.leaf({ scope: "app", name: "draw.shuffle", kind: "INTERNAL" }, lat.work(6));
  sqlQuery(root, lat, "drawsDb", {
    operation: "UPDATE",
    table: "draw_entries",
    statement:
      "UPDATE draw_entries SET status = 'won', selected_at = now() WHERE draw_id = $1 AND user_id = ANY($2)",
    medianMs: 25,
  });
  for (const winner of notified) {
    const producer = kafkaSend(root, lat, "draw.results", winner.userId, { "draw.id": state.drawId });
    notifyUser(ctx, producer, "draw.results", winner.userId, winner.platform);
  }
  root.end();
}
