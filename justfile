# click-ai — run `just --list` for the commands.
# mode=local (default): the embedded stack, no Docker. mode=docker: docker compose.
mode := "local"

set dotenv-load := false

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
    @if [ "{{mode}}" = "docker" ]; then {{compose}} logs -f {{name}}; else {{tsx}} local-stack/supervisor/cli.ts logs {{name}}; fi

# stop one process (default: the event generator)
stop name="event-generator":
    @if [ "{{mode}}" = "docker" ]; then {{compose}} stop {{name}}; else {{tsx}} local-stack/supervisor/cli.ts stop {{name}}; fi

# start one process (default: the event generator)
start name="event-generator":
    @if [ "{{mode}}" = "docker" ]; then {{compose}} start {{name}}; else {{tsx}} local-stack/supervisor/cli.ts start {{name}}; fi

# restart one process (default: the event generator)
restart name="event-generator":
    @if [ "{{mode}}" = "docker" ]; then {{compose}} restart {{name}}; else {{tsx}} local-stack/supervisor/cli.ts restart {{name}}; fi

# apply the ClickHouse schema (idempotent; `up` does it too)
migrate:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} run --rm migrate; else {{tsx}} local-stack/migrate.ts; fi

# delete all local data (the stack must be down)
clean:
    @if [ "{{mode}}" = "docker" ]; then {{compose}} down -v; else {{tsx}} local-stack/supervisor/cli.ts clean; fi
