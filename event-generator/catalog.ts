/**
 * The simulated SNKRS platform: its services (each becomes its own OTLP
 * resource), their datastores, and the products on sale.
 */

export const SERVICES = {
  gateway: {
    name: "snkrs-api-gateway",
    version: "3.14.2",
    replicas: 3,
    host: "api.snkrs.example.com",
    port: 443,
  },
  auth: { name: "auth-service", version: "2.8.0", replicas: 2, host: "auth-service.snkrs.svc", port: 50051 },
  feed: { name: "feed-service", version: "1.22.4", replicas: 2, host: "feed-service.snkrs.svc", port: 8080 },
  catalog: {
    name: "product-catalog",
    version: "4.3.1",
    replicas: 2,
    host: "product-catalog.snkrs.svc",
    port: 8080,
  },
  draw: { name: "draw-service", version: "1.9.7", replicas: 2, host: "draw-service.snkrs.svc", port: 8080 },
  checkout: {
    name: "checkout-service",
    version: "5.0.3",
    replicas: 3,
    host: "checkout-service.snkrs.svc",
    port: 8080,
  },
  inventory: {
    name: "inventory-service",
    version: "2.11.0",
    replicas: 2,
    host: "inventory-service.snkrs.svc",
    port: 50051,
  },
  payment: {
    name: "payment-service",
    version: "3.2.9",
    replicas: 2,
    host: "payment-service.snkrs.svc",
    port: 50051,
  },
  fraud: {
    name: "fraud-service",
    version: "0.17.2",
    replicas: 2,
    host: "fraud-service.snkrs.svc",
    port: 50051,
  },
  order: {
    name: "order-service",
    version: "2.5.5",
    replicas: 2,
    host: "order-service.snkrs.svc",
    port: 8080,
  },
  notification: {
    name: "notification-service",
    version: "1.4.0",
    replicas: 2,
    host: "notification-service.snkrs.svc",
    port: 8080,
  },
} as const;

export type ServiceKey = keyof typeof SERVICES;
export const SERVICE_KEYS = Object.keys(SERVICES) as ServiceKey[];

/** Instrumentation scopes, as the real auto-instrumentations name themselves. */
export const SCOPES = {
  http: { name: "@opentelemetry/instrumentation-http", version: "0.208.0" },
  grpc: { name: "@opentelemetry/instrumentation-grpc", version: "0.208.0" },
  pg: { name: "@opentelemetry/instrumentation-pg", version: "0.61.0" },
  redis: { name: "@opentelemetry/instrumentation-ioredis", version: "0.56.0" },
  kafka: { name: "@opentelemetry/instrumentation-kafkajs", version: "0.18.0" },
  app: { name: "snkrs.app", version: "1.0.0" },
} as const;

export type ScopeKey = keyof typeof SCOPES;

export interface Datastore {
  system: "postgresql" | "redis";
  host: string;
  port: number;
  namespace: string;
}

/** A PostgreSQL database on its own host, named after the database (the cluster's naming scheme). */
function postgres(database: string): Datastore {
  return { system: "postgresql", host: `${database}-db.snkrs.internal`, port: 5432, namespace: database };
}

/** One Redis cluster; `database` is the Redis database number the services select. */
function redis(cluster: string, database: string): Datastore {
  return { system: "redis", host: `${cluster}.redis.snkrs.internal`, port: 6379, namespace: database };
}

export const DATASTORES = {
  accountsDb: postgres("accounts"),
  catalogDb: postgres("catalog"),
  drawsDb: postgres("draws"),
  inventoryDb: postgres("inventory"),
  paymentsDb: postgres("payments"),
  ordersDb: postgres("orders"),
  notificationsDb: postgres("notifications"),
  sessionCache: redis("sessions", "0"),
  catalogCache: redis("catalog", "0"),
  inventoryCache: redis("inventory", "0"),
  fraudFeatures: redis("fraud-features", "2"),
} satisfies Record<string, Datastore>;

export const KAFKA = { host: "kafka-0.kafka.snkrs.internal", port: 9092 } as const;
export const PSP = { host: "api.payments-psp.example", port: 443 } as const;
export const PUSH_PROVIDERS = {
  ios: { host: "api.push.apple.com", port: 443, route: "/3/device/{token}" },
  android: { host: "fcm.googleapis.com", port: 443, route: "/v1/projects/snkrs-app/messages:send" },
} as const;

export interface Product {
  sku: string;
  name: string;
  priceUsd: number;
}

/** The pair everybody wants; each cycle is a drop of this product. */
export const DROP_PRODUCT: Product = {
  sku: "DZ5485-612",
  name: "Air Jordan 1 Retro High OG 'Chicago Lost & Found'",
  priceUsd: 180,
};

export const CATALOG: readonly Product[] = [
  DROP_PRODUCT,
  { sku: "DD1391-100", name: "Dunk Low 'Panda'", priceUsd: 115 },
  { sku: "FD0774-101", name: "Air Force 1 '07 LV8", priceUsd: 120 },
  { sku: "DV0833-104", name: "Air Max 1 '86 OG 'Big Bubble'", priceUsd: 150 },
  { sku: "FQ8080-133", name: "Dunk Low 'Cacao Wow'", priceUsd: 120 },
  { sku: "DM7866-140", name: "Air Jordan 4 Retro 'Military Black'", priceUsd: 210 },
  { sku: "CW2288-111", name: "Air Force 1 '07", priceUsd: 115 },
  { sku: "DH7138-006", name: "Air Max 97 'Silver Bullet'", priceUsd: 185 },
  { sku: "FB9658-400", name: "Sacai x Nike Vaporwaffle", priceUsd: 190 },
  { sku: "DQ8426-067", name: "Air Jordan 11 Retro 'Gratitude'", priceUsd: 230 },
];

/** US men's sizes and how a drop's stock is split over them (mid sizes dominate). */
export const SIZES = ["7", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12", "13"] as const;
export const SIZE_WEIGHTS = [4, 8, 10, 13, 13, 14, 12, 11, 9, 6] as const;

export const PLATFORMS = ["ios", "android", "web"] as const;
export type Platform = (typeof PLATFORMS)[number];
export const PLATFORM_WEIGHTS: Record<Platform, number> = { ios: 55, android: 30, web: 15 };

export const USER_AGENTS: Record<Platform, string> = {
  ios: "SNKRS/6.41.0 (iPhone; iOS 18.1; Scale/3.00)",
  android: "SNKRS/6.41.0 (Android 15; Pixel 9)",
  web: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
};

/** What bots send: scripted clients that do not bother to look like the app. */
export const BOT_USER_AGENTS = [
  "python-requests/2.32.3",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/129.0.0.0",
  "SNKRS/6.41.0 (iPhone; iOS 18.1; Scale/3.00)",
  "okhttp/4.12.0",
] as const;

/** Splits `stock` pairs over the sizes by SIZE_WEIGHTS (largest remainders get the rest). */
export function splitStock(stock: number): number[] {
  const total = SIZE_WEIGHTS.reduce((sum, weight) => sum + weight, 0);
  const exact = SIZE_WEIGHTS.map((weight) => (stock * weight) / total);
  const counts = exact.map(Math.floor);
  let left = stock - counts.reduce((sum, count) => sum + count, 0);
  const order = exact
    .map((value, index) => ({ index, rest: value - Math.floor(value) }))
    .sort((a, b) => b.rest - a.rest);
  for (const { index } of order) {
    if (left <= 0) break;
    counts[index] = (counts[index] ?? 0) + 1;
    left--;
  }
  return counts;
}
