/**
 * Building blocks of the scenarios: one call between services (client span in
 * the caller, server span in the callee), one datastore command, one Kafka
 * message. They set the attributes real auto-instrumentation sets
 * (OpenTelemetry semantic conventions; db.system and db.operation also under
 * their pre-1.26 names, as instrumentations in the "dup" transition mode do;
 * the query text only as db.query.text) and pass failures up
 * the call chain the way the services would.
 */

import { GRPC_CODE_NAMES } from "../shared/grpc-status.ts";
import { DATASTORES, type Datastore, KAFKA, PSP, SERVICES, type ServiceKey } from "./catalog.ts";
import { DB_POOL_TIMEOUT_MS, type LatencyModel } from "./latency.ts";
import type { Attributes, Outcome, PlannedError, SpanHandle, SpanOptions } from "./trace-plan.ts";

export const HTTP_REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The gRPC status a service returns for an HTTP-style outcome. */
export function grpcCodeForStatus(status: number): number {
  if (status < 400) return 0;
  switch (status) {
    case 400:
      return 3;
    case 401:
      return 16;
    case 402:
    case 403:
      return 7;
    case 404:
      return 5;
    case 409:
      return 9;
    case 429:
      return 8;
    case 503:
      return 14;
    case 504:
      return 4;
    default:
      return 13;
  }
}

/** The HTTP status a gateway maps a gRPC status to (grpc-gateway's table). */
export function httpStatusForGrpc(code: number): number {
  switch (code) {
    case 0:
      return 200;
    case 3:
    case 9:
    case 11:
      return code === 9 ? 409 : 400;
    case 4:
      return 504;
    case 5:
      return 404;
    case 6:
    case 10:
      return 409;
    case 7:
      return 403;
    case 8:
      return 429;
    case 14:
      return 503;
    case 16:
      return 401;
    default:
      return 500;
  }
}

const FRAMES: Record<ServiceKey, string[]> = {
  gateway: [
    "Gateway.handle (/app/dist/gateway/router.js:212:19)",
    "Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)",
  ],
  auth: [
    "TokenVerifier.verify (/app/dist/auth/tokens.js:88:13)",
    "AuthServer.VerifyToken (/app/dist/auth/server.js:41:22)",
  ],
  feed: [
    "FeedService.build (/app/dist/feed/service.js:64:17)",
    "FeedController.get (/app/dist/feed/controller.js:23:30)",
  ],
  catalog: [
    "ProductRepository.find (/app/dist/catalog/repository.js:57:11)",
    "ProductController.show (/app/dist/catalog/controller.js:31:24)",
  ],
  draw: [
    "EntryRepository.insert (/app/dist/draws/entries.js:102:15)",
    "DrawController.enter (/app/dist/draws/controller.js:48:28)",
  ],
  checkout: [
    "CheckoutService.placeOrder (/app/dist/checkout/service.js:142:17)",
    "CheckoutController.create (/app/dist/checkout/controller.js:37:26)",
  ],
  inventory: [
    "StockLedger.reserve (/app/dist/inventory/ledger.js:77:13)",
    "InventoryServer.Reserve (/app/dist/inventory/server.js:55:21)",
  ],
  payment: [
    "PaymentAuthorizer.authorize (/app/dist/payments/authorizer.js:119:15)",
    "PaymentServer.Authorize (/app/dist/payments/server.js:62:19)",
  ],
  fraud: [
    "RiskModel.score (/app/dist/fraud/model.js:33:11)",
    "FraudServer.Score (/app/dist/fraud/server.js:29:18)",
  ],
  order: [
    "OrderRepository.create (/app/dist/orders/repository.js:71:13)",
    "OrderController.create (/app/dist/orders/controller.js:44:25)",
  ],
  notification: [
    "PushSender.send (/app/dist/notifications/push.js:96:17)",
    "OrderEventsConsumer.eachMessage (/app/dist/notifications/consumer.js:58:21)",
  ],
};

export function makeError(service: ServiceKey, type: string, message: string): PlannedError {
  const frames = FRAMES[service];
  return { type, message, stack: `${type}: ${message}\n    at ${frames[0]}\n    at ${frames[1]}` };
}

/** The error a service raises when a call it made came back failed. */
export function upstreamFailure(
  service: ServiceKey,
  callee: ServiceKey,
  upstream: Outcome,
  status = upstream.status,
): Outcome {
  const cause = upstream.error
    ? `${upstream.error.type}: ${upstream.error.message}`
    : `status ${upstream.status}`;
  return {
    status,
    error: makeError(service, "UpstreamServiceError", `${SERVICES[callee].name} failed (${cause})`),
    ...(upstream.grpcCode === undefined ? {} : { grpcCode: upstream.grpcCode }),
  };
}

export interface HttpCallSpec {
  method: string;
  route: string;
  path: string;
  /** Attributes of the callee's server span (business context). */
  serverAttributes?: Attributes;
  /** Attributes of the caller's client span. */
  clientAttributes?: Attributes;
}

function finishServerSpan(
  server: SpanHandle,
  outcome: Outcome,
  status: number,
  protocol: "http" | "grpc",
): void {
  if (protocol === "http") server.set("http.response.status_code", status);
  else server.set("rpc.grpc.status_code", outcome.grpcCode ?? grpcCodeForStatus(status));
  if (status >= 400) {
    // A request that failed for its caller is an error of the span that answered it, also for 4xx:
    // that is what makes "which service errors most" answerable from the root spans.
    server.set(
      "error.type",
      protocol === "http" ? String(status) : GRPC_CODE_NAMES[outcome.grpcCode ?? grpcCodeForStatus(status)]!,
    );
    server.fail(
      outcome.error ??
        makeError(server.service, "HttpError", `${status} ${HTTP_REASONS[status] ?? ""}`.trim()),
    );
  }
}

/** How one protocol's call differs: span names and attributes, and the callee's work either side of its handler. */
interface RemoteCallSpec {
  protocol: "http" | "grpc";
  name: string;
  clientAttributes: Attributes;
  serverAttributes: Attributes;
  /** Shares of the callee's work before and after `handler`. */
  workShares: [before: number, after: number];
}

/**
 * One call's span pair: the caller's client span around the callee's server span, with network
 * time either side; `finishClient` sets the client span's result from the callee's outcome.
 */
function remoteCall(
  caller: SpanHandle,
  lat: LatencyModel,
  target: ServiceKey,
  spec: RemoteCallSpec,
  handler: (server: SpanHandle) => Outcome,
  finishClient: (client: SpanHandle, outcome: Outcome) => Outcome,
): Outcome {
  const { protocol, name } = spec;
  return caller.child(
    { scope: protocol, name, kind: "CLIENT", attributes: spec.clientAttributes },
    (client) => {
      client.work(lat.net());
      const outcome = client.child(
        {
          service: target,
          remote: true,
          scope: protocol,
          name,
          kind: "SERVER",
          attributes: spec.serverAttributes,
        },
        (server) => {
          server.work(lat.work(spec.workShares[0]));
          const result = handler(server);
          server.work(lat.work(spec.workShares[1]));
          finishServerSpan(server, result, result.status, protocol);
          return result;
        },
      );
      client.work(lat.net());
      return finishClient(client, outcome);
    },
  );
}

/** An HTTP request from `caller` to `target`; `handler` runs inside the callee's server span. */
export function httpCall(
  caller: SpanHandle,
  lat: LatencyModel,
  target: ServiceKey,
  spec: HttpCallSpec,
  handler: (server: SpanHandle) => Outcome,
): Outcome {
  const host = SERVICES[target].host;
  const port = SERVICES[target].port;
  const name = `${spec.method} ${spec.route}`;
  const call: RemoteCallSpec = {
    protocol: "http",
    name,
    clientAttributes: {
      "http.request.method": spec.method,
      "url.full": `http://${host}:${port}${spec.path}`,
      "server.address": host,
      "server.port": port,
      ...spec.clientAttributes,
    },
    serverAttributes: {
      "http.request.method": spec.method,
      "http.route": spec.route,
      "url.path": spec.path,
      "server.address": host,
      "server.port": port,
      ...spec.serverAttributes,
    },
    workShares: [0.3, 0.2],
  };
  return remoteCall(caller, lat, target, call, handler, (client, outcome) => {
    client.set("http.response.status_code", outcome.status);
    if (outcome.status >= 400) {
      client.set("error.type", String(outcome.status));
      client.fail(
        makeError(caller.service, "HTTPError", `Request failed with status code ${outcome.status} (${name})`),
      );
    }
    return outcome;
  });
}

/** A gRPC call (unary) from `caller` to `target`. */
export function grpcCall(
  caller: SpanHandle,
  lat: LatencyModel,
  target: ServiceKey,
  rpcService: string,
  rpcMethod: string,
  handler: (server: SpanHandle) => Outcome,
  serverAttributes: Attributes = {},
): Outcome {
  const rpcAttributes = {
    "rpc.system": "grpc",
    "rpc.service": rpcService,
    "rpc.method": rpcMethod,
    "server.address": SERVICES[target].host,
    "server.port": SERVICES[target].port,
  };
  const call: RemoteCallSpec = {
    protocol: "grpc",
    name: `${rpcService}/${rpcMethod}`,
    clientAttributes: { ...rpcAttributes },
    serverAttributes: { ...rpcAttributes, ...serverAttributes },
    workShares: [0.15, 0.1],
  };
  return remoteCall(caller, lat, target, call, handler, (client, outcome) => {
    const code = outcome.grpcCode ?? grpcCodeForStatus(outcome.status);
    client.set("rpc.grpc.status_code", code);
    if (code !== 0) {
      client.set("error.type", GRPC_CODE_NAMES[code]!);
      const details = outcome.error
        ? `${outcome.error.type}: ${outcome.error.message}`
        : GRPC_CODE_NAMES[code]!;
      client.fail(makeError(caller.service, "Error", `${code} ${GRPC_CODE_NAMES[code]}: ${details}`));
    }
    return { ...outcome, grpcCode: code };
  });
}

/** The payment service's client span of one attempt (1-based) to create a payment intent at the PSP. */
export function pspIntentSpan(attempt: number): SpanOptions {
  return {
    scope: "http",
    name: "POST /v1/payment_intents",
    kind: "CLIENT",
    attributes: {
      "http.request.method": "POST",
      "url.full": `https://${PSP.host}/v1/payment_intents`,
      "server.address": PSP.host,
      "server.port": PSP.port,
      "network.protocol.version": "1.1",
      "http.request.resend_count": attempt - 1,
    },
  };
}

function datastoreAttributes(
  store: Datastore,
  operation: string,
  statement: string,
  collection?: string,
): Attributes {
  const attributes: Attributes = {
    "db.system": store.system,
    "db.system.name": store.system,
    "db.namespace": store.namespace,
    "db.operation": operation,
    "db.operation.name": operation,
    "db.query.text": statement,
    "server.address": store.host,
    "server.port": store.port,
  };
  if (collection) attributes["db.collection.name"] = collection;
  return attributes;
}

export interface SqlSpec {
  operation: "SELECT" | "INSERT" | "UPDATE" | "DELETE";
  table: string;
  statement: string;
  medianMs: number;
  /** Fails the query itself (e.g. a unique violation): pg error code and message. */
  failure?: { code: string; type: string; message: string };
  /** Extra time the query spends waiting on row locks. */
  lockWaitMs?: number;
}

/**
 * A pg-pool checkout. Returns the span when acquiring failed (pool exhausted),
 * undefined when a connection was obtained.
 */
export function pgPoolConnect(
  caller: SpanHandle,
  lat: LatencyModel,
  storeKey: keyof typeof DATASTORES,
  exhausted: boolean,
): SpanHandle | undefined {
  const store = DATASTORES[storeKey];
  const wait = exhausted ? DB_POOL_TIMEOUT_MS + lat.prng.uniform(0, 15) : lat.poolWait();
  // pg-pool only produces a span when it had to wait; an idle pool hands out a connection immediately.
  if (!exhausted && wait < 1) return undefined;
  const span = caller.leaf(
    {
      scope: "pg",
      name: "pg-pool.connect",
      kind: "CLIENT",
      attributes: {
        "db.system": "postgresql",
        "db.system.name": "postgresql",
        "db.namespace": store.namespace,
        "server.address": store.host,
        "server.port": store.port,
        "db.client.connection.pool.name": `${store.host}:${store.port}/${store.namespace}`,
      },
    },
    wait,
  );
  if (!exhausted) return undefined;
  span.set("error.type", "TimeoutError");
  span.fail(makeError(caller.service, "Error", "timeout exceeded when trying to connect"));
  return span;
}

/** One SQL statement. Returns the span (so a fault can point at it). */
export function sqlQuery(
  caller: SpanHandle,
  lat: LatencyModel,
  storeKey: keyof typeof DATASTORES,
  spec: SqlSpec,
): SpanHandle {
  const store = DATASTORES[storeKey];
  const span = caller.leaf(
    {
      scope: "pg",
      name: `${spec.operation} ${spec.table}`,
      kind: "CLIENT",
      attributes: datastoreAttributes(store, spec.operation, spec.statement, spec.table),
    },
    lat.work(spec.medianMs, 0.5) + (spec.lockWaitMs ?? 0),
  );
  if (spec.failure) {
    span.set("db.response.status_code", spec.failure.code);
    span.set("error.type", spec.failure.code);
    span.fail(makeError(caller.service, spec.failure.type, spec.failure.message));
  }
  return span;
}

/** One Redis command (ioredis instrumentation names the span after the command). */
export function redisCommand(
  caller: SpanHandle,
  lat: LatencyModel,
  storeKey: keyof typeof DATASTORES,
  command: string,
  statement: string,
): SpanHandle {
  const store = DATASTORES[storeKey];
  return caller.leaf(
    {
      scope: "redis",
      name: command,
      kind: "CLIENT",
      attributes: datastoreAttributes(store, command, statement),
    },
    lat.work(0.4, 0.5),
  );
}

/** A Kafka send; returns the producer span, whose context travels in the message headers. */
export function kafkaSend(
  caller: SpanHandle,
  lat: LatencyModel,
  topic: string,
  key: string,
  attributes: Attributes = {},
): SpanHandle {
  return caller.leaf(
    {
      scope: "kafka",
      name: `send ${topic}`,
      kind: "PRODUCER",
      attributes: {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": topic,
        "messaging.kafka.message.key": key,
        "server.address": KAFKA.host,
        "server.port": KAFKA.port,
        ...attributes,
      },
    },
    lat.work(1.8, 0.5),
  );
}

/**
 * The consumer side of a message: a CONSUMER span in `service` whose parent
 * is the producer span. It starts after the producer ended (consumer lag) and
 * does not hold up the request that produced the message.
 */
export function kafkaProcess<T>(
  producer: SpanHandle,
  lat: LatencyModel,
  service: ServiceKey,
  topic: string,
  offset: number,
  body: (consumer: SpanHandle) => T,
): T {
  // Run the consumer from a detached cursor so the producer's caller does not wait for it.
  const saved = producer.cursor;
  const result = producer.child(
    {
      service,
      remote: true,
      scope: "kafka",
      name: `process ${topic}`,
      kind: "CONSUMER",
      gapMs: lat.external(12, 0.6),
      attributes: {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": SERVICES[service].name,
        "messaging.kafka.message.offset": offset,
        "server.address": KAFKA.host,
        "server.port": KAFKA.port,
      },
    },
    body,
  );
  producer.cursor = saved;
  return result;
}
