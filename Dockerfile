# syntax=docker/dockerfile:1.7
#
# One image for every click-ai worker (migrate, event-generator, s3-loader,
# embedding-enricher, agent): docker-compose.yaml picks the stage by command,
# e.g. `node --import tsx s3-loader/cli.ts run` (the same as `npx tsx ... run`,
# minus the npm wrapper process, so SIGTERM reaches the stage directly).
#
# A second small target, `otel-collector`, adds a static busybox to the
# distroless OpenTelemetry Collector image so compose can health-check it.
#
# Every base image is pinned to an exact version (docker/compose.test.ts checks).

ARG NODE_IMAGE=node:20.19.5-bookworm-slim
ARG OTELCOL_IMAGE=otel/opentelemetry-collector-contrib:0.139.0
ARG BUSYBOX_IMAGE=busybox:1.37.0-musl

# ---- deps: production node_modules, installed the way the README says -------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# onnxruntime-node's install script would download CUDA files from outside
# npm (never needed, and failing inside the build). npm 11 does not run it
# (package.json allowScripts denies it); npm 10 ignores allowScripts, so the
# script's own switch skips it. (An .npmrc key for it makes npm 11 warn on every command.)
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund \
 # chdb (~550 MB) is the embedded engine of the local stack only; in docker
 # mode every stage talks to the ClickHouse server over HTTP.
 && rm -rf node_modules/chdb node_modules/@chdb

# ---- worker: the runtime image ----------------------------------------------
FROM ${NODE_IMAGE} AS worker
ENV NODE_ENV=production \
    CLICKAI_DATA_DIR=/data \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
# Sources only (see .dockerignore); the code stays owned by root and read-only
# for the unprivileged user that runs it.
COPY --chown=root:root . .
# Bake the enricher's offline default model (distilled from an npm package,
# ~1-2 min of CPU) into the image, so a fresh volume does not rebuild it at start.
ENV EMBEDDING_MODEL_DIR=/app/models
RUN node --import tsx embedding-enricher/cli.ts build-model \
 && mkdir -p /data && chown node:node /data
USER node
# No default stage: compose (or `docker run`) names the command.
CMD ["node", "--import", "tsx", "local-stack/migrate.ts", "--help"]

# ---- otel-collector: upstream collector + a probe for the health check -------
FROM ${BUSYBOX_IMAGE} AS busybox
FROM ${OTELCOL_IMAGE} AS otel-collector
COPY --from=busybox /bin/busybox /busybox
