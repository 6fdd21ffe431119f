# click-ai — run `just --list` for the commands.
# mode=local (default): the embedded stack, no Docker. mode=docker: docker compose.
# Process names are the local ones everywhere; in docker mode `collector` and
# `s3` mean the compose services otel-collector and minio.
mode := "local"

set dotenv-load := false
set positional-arguments := true

tsx := "node --import tsx"
compose := "docker compose"

# start the whole pipeline in the background and wait until it is healthy
up:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} up -d --wait; else {{tsx}} local-stack/supervisor/cli.ts up; fi

# stop everything (data is kept)
down:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} down; else {{tsx}} local-stack/supervisor/cli.ts down; fi

# each process: state, pid, restarts, uptime
status:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} ps; else {{tsx}} local-stack/supervisor/cli.ts status; fi

# follow logs of every process, or of one: just logs s3-loader
logs *name:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} logs -f {{ if name == "collector" { "otel-collector" } else if name == "s3" { "minio" } else { name } }}; else {{tsx}} local-stack/supervisor/cli.ts logs {{name}}; fi

# stop one process (default: the event generator)
stop name="event-generator":
    @if [ "{{mode}}" = "docker" ]; then {{compose}} stop {{ if name == "collector" { "otel-collector" } else if name == "s3" { "minio" } else { name } }}; else {{tsx}} local-stack/supervisor/cli.ts stop {{name}}; fi

# start one process (default: the event generator)
start name="event-generator":
    @if [ "{{mode}}" = "docker" ]; then {{compose}} start {{ if name == "collector" { "otel-collector" } else if name == "s3" { "minio" } else { name } }}; else {{tsx}} local-stack/supervisor/cli.ts start {{name}}; fi

# restart one process (default: the event generator)
restart name="event-generator":
    @if [ "{{mode}}" = "docker" ]; then {{compose}} restart {{ if name == "collector" { "otel-collector" } else if name == "s3" { "minio" } else { name } }}; else {{tsx}} local-stack/supervisor/cli.ts restart {{name}}; fi

# apply the ClickHouse schema (idempotent; `up` does it too)
migrate:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} run --rm migrate; else {{tsx}} local-stack/migrate.ts; fi

# delete all local data (the stack must be down)
clean:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} down -v; else {{tsx}} local-stack/supervisor/cli.ts clean; fi

# follow the s3-loader's logs
loader-logs:
    @{{just_executable()}} mode={{mode}} logs s3-loader

# follow the embedding-enricher's logs
enricher-logs:
    @{{just_executable()}} mode={{mode}} logs embedding-enricher

# loader: objects by state, rows loaded, watermark, lag, last errors
loader-status:
    @{{just_executable()}} mode={{mode}} _stage s3-loader s3-loader/cli.ts status

# enricher: enriched vs loaded rows, lag, watermark, model, cache hit rate
enrichment-status:
    @{{just_executable()}} mode={{mode}} _stage embedding-enricher embedding-enricher/cli.ts status

# analyzer: rows counted per source and shard, backlog, watermark, minutes judged
analyzer-status:
    @{{just_executable()}} mode={{mode}} _stage analyzer analyzer/cli.ts status

# anomalies the analyzer found: `just anomalies --last 1h`, `--service checkout`, `--json`
anomalies *args:
    @{{just_executable()}} mode={{mode}} _stage analyzer analyzer/cli.ts anomalies {{args}}

# incidents: anomalies grouped into runs, services ranked by score: `just incidents --last 6h`
incidents *args:
    @{{just_executable()}} mode={{mode}} _stage analyzer analyzer/cli.ts incidents {{args}}

# the collector's counters: spans received, objects written, spool, rejected requests
collector-status:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} exec otel-collector wget -qO- http://127.0.0.1:8888/metrics | grep -E '^otelcol_(receiver_accepted|receiver_refused|exporter_sent|exporter_send_failed)_spans'; else {{tsx}} collector/cli.ts status; fi

# list the trace objects in the bucket (1,000 at a time; says when more exist): just minio-ls --all
minio-ls *args:
    @{{just_executable()}} mode={{mode}} _stage s3-loader s3-loader/cli.ts ls {{args}}

# row counts of every table, lag and rates of each stage
bench:
    @{{just_executable()}} mode={{mode}} _stage s3-loader ops/pipeline-report.ts

# ask the trace agent: `just agent` (interactive) or `just agent "question"`
agent *question:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} run --rm agent node --import tsx agent/cli.ts "$@"; else {{tsx}} agent/cli.ts "$@"; fi

# root-cause ranking for an incident that began at a time: `just rca 2026-12-02T09:03:53Z`, `just rca 15m` (default 3 min ago)
rca *time:
    @{{just_executable()}} mode={{mode}} agent "/rca $*"

# replay the Nezha Train-Ticket dataset (traces, logs, metrics) into the running stack; `--help` for options
replay-nezha *args:
    @{{tsx}} analyzer/replay/cli.ts "$@"

# print the web console's URL (open it in a browser)
console:
    @if [ "{{mode}}" = "docker" ]; then echo "http://localhost:${CONSOLE_PORT:-3000}"; else {{tsx}} console/cli.ts url; fi

# run a stage command locally, or inside the stage's container in docker mode
_stage service script *args:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} exec {{service}} node --import tsx {{script}} {{args}}; else {{tsx}} {{script}} {{args}}; fi
