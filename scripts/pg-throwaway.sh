#!/usr/bin/env bash
# Run a command against a throw-away PostgreSQL server.
#
#   scripts/pg-throwaway.sh COMMAND [ARGS...]
#
# Starts a private PostgreSQL server from the machine's own binaries
# (/usr/lib/postgresql/*/bin, installed with apt when missing and we are root), in a
# fresh temporary directory, listening on 127.0.0.1 only on a free port, with its
# unix socket inside that directory.  Creates the database `fleetwarden_test`,
# exports FLEETWARDEN_TEST_PG_URL, runs COMMAND, then ALWAYS stops the server and
# removes the directory.  Exits with COMMAND's exit status.
#
# What it must not do: listen on anything but loopback, touch a system cluster
# (/var/lib/postgresql, /etc/postgresql), or leave a process behind.
#
# Environment (all optional):
#   PG_BINDIR            directory holding initdb/postgres (default: newest
#                        /usr/lib/postgresql/*/bin)
#   FLEETWARDEN_PG_TMP   parent of the temporary directory (default: /tmp; it must be
#                        traversable by the postgres user when we run as root)
#   PYTHON               interpreter used to pick a free port (default: python3)
set -euo pipefail

die() {
    printf '\npg-throwaway: ERROR: %s\n\n' "$*" >&2
    exit 1
}
log() { printf 'pg-throwaway: %s\n' "$*" >&2; }

[[ $# -ge 1 ]] || die "usage: $0 COMMAND [ARGS...]"

PYTHON=${PYTHON:-python3}
DB_NAME=fleetwarden_test
SUPERUSER=postgres

find_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then
        [[ -x $PG_BINDIR/initdb ]] && printf '%s\n' "$PG_BINDIR"
        return 0
    fi
    local initdb
    # Newest major version wins.
    initdb=$(ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n $initdb ]] && dirname "$initdb"
    return 0
}

install_postgresql() {
    command -v apt-get >/dev/null 2>&1 || return 1
    log "PostgreSQL server binaries not found; installing the 'postgresql' package with apt-get"
    # The Debian package starts its own cluster service on install; a policy-rc.d
    # that denies service starts keeps this script from leaving a server behind.
    local policy=/usr/sbin/policy-rc.d created_policy=0 rc=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            postgresql || rc=$?
    if [[ $created_policy == 1 ]]; then rm -f "$policy"; fi
    return "$rc"
}

BINDIR=$(find_bindir)
if [[ -z $BINDIR ]]; then
    if [[ $(id -u) -eq 0 && -z ${PG_BINDIR:-} ]]; then
        install_postgresql || log "apt-get install postgresql failed"
        BINDIR=$(find_bindir)
    fi
fi
if [[ -z $BINDIR ]]; then
    die "PostgreSQL server binaries (initdb, postgres) not found${PG_BINDIR:+ in PG_BINDIR=$PG_BINDIR}.
The test suite runs every database test against PostgreSQL as well as SQLite and will
not skip them. Install the server (Debian/Ubuntu: 'apt-get install postgresql', as root),
or point PG_BINDIR at a directory containing initdb and postgres."
fi
for tool in initdb postgres createdb; do
    [[ -x $BINDIR/$tool ]] || die "$BINDIR/$tool is missing or not executable"
done

# As root, the server must run as an unprivileged user (postgres refuses root).
RUN_AS=()
if [[ $(id -u) -eq 0 ]]; then
    id -u postgres >/dev/null 2>&1 ||
        die "running as root but there is no 'postgres' OS user to run the server as"
    if command -v runuser >/dev/null 2>&1; then
        RUN_AS=(runuser -u postgres --)
    else
        # util-linux su hands the arguments after -c's script to the shell as $0 "$@".
        # shellcheck disable=SC2016
        RUN_AS=(su -s /bin/sh postgres -c 'exec "$0" "$@"')
    fi
fi
as_pg() {
    # cd into the temp dir so the postgres user never needs access to our cwd.
    (cd "$TMP" && exec "${RUN_AS[@]}" "$@")
}

TMP=
DATA=
PG_PID= # our child (runuser/su, or postgres itself): waited for, so nothing is orphaned

postmaster_pid() {
    local pid
    pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
    return 0
}

# wait_gone SECONDS: true once our server child has exited (and been reaped).
wait_gone() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        kill -0 "$PG_PID" 2>/dev/null || { wait "$PG_PID" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    return 1
}

stop_server() {
    [[ -n $PG_PID ]] || return 0
    # The server runs as our child rather than daemonised by pg_ctl, so we can wait for
    # it to exit completely: fast shutdown (SIGINT), then immediate (SIGQUIT), then KILL.
    local pid sig
    for sig in INT QUIT KILL; do
        pid=$(postmaster_pid)
        [[ -n $pid ]] || pid=$PG_PID
        kill "-$sig" "$pid" 2>/dev/null || true
        if [[ $sig == KILL ]]; then kill -KILL "$PG_PID" 2>/dev/null || true; fi
        if wait_gone 30; then
            PG_PID=
            return 0
        fi
        log "server still running after SIG$sig"
    done
    log "could not stop the server (pid $PG_PID)"
    return 1
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if ! stop_server && [[ $rc == 0 ]]; then rc=1; fi
    if [[ -n $TMP && -d $TMP ]]; then
        rm -rf -- "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d "${FLEETWARDEN_PG_TMP:-/tmp}/fleetwarden-pg.XXXXXXXX")
DATA=$TMP/data
SOCKDIR=$TMP/sock
mkdir -m 700 "$SOCKDIR"
if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres: "$TMP"
fi

log "initdb ($("$BINDIR/postgres" --version)) in $DATA"
if ! as_pg "$BINDIR/initdb" -D "$DATA" -U "$SUPERUSER" -A trust -E UTF8 --locale=C \
    --no-sync >"$TMP/initdb.log" 2>&1; then
    cat "$TMP/initdb.log" >&2
    die "initdb failed"
fi

# Throw-away settings: loopback only, socket inside the temp dir, no durability.
# initdb's pg_hba.conf with -A trust trusts local and loopback (127.0.0.1/32, ::1/128)
# connections; nothing else can reach the server anyway.
cat >>"$DATA/postgresql.conf" <<EOF

# --- fleetwarden throw-away test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKDIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
logging_collector = off
EOF

pick_port() {
    "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# wait_ready SECONDS: true once the server accepts connections; false if it died.
wait_ready() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        kill -0 "$PG_PID" 2>/dev/null || return 1
        # postmaster.pid line 8 is the postmaster status; "ready" once it accepts connections.
        if [[ $(sed -n 8p "$DATA/postmaster.pid" 2>/dev/null) == ready* ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# A port picked this way can be taken by someone else before the server binds it,
# so retry a few times with a new one.
PORT=
for attempt in 1 2 3 4 5; do
    PORT=$(pick_port)
    # exec: $! is then runuser/su (or postgres) itself, not an intermediate subshell.
    (cd "$TMP" && exec "${RUN_AS[@]}" "$BINDIR/postgres" -D "$DATA" -p "$PORT") \
        >>"$TMP/server.log" 2>&1 &
    PG_PID=$!
    if wait_ready 60; then
        break
    fi
    log "server did not start on port $PORT (attempt $attempt)"
    stop_server || die "could not stop a half-started server"
    PORT=
done
if [[ -z $PORT ]]; then
    tail -n 50 "$TMP/server.log" >&2 || true
    die "could not start the throw-away PostgreSQL server"
fi

as_pg "$BINDIR/createdb" -h "$SOCKDIR" -p "$PORT" -U "$SUPERUSER" "$DB_NAME" ||
    die "createdb $DB_NAME failed"

export FLEETWARDEN_TEST_PG_URL="postgresql+psycopg://$SUPERUSER@127.0.0.1:$PORT/$DB_NAME"
log "server up: $FLEETWARDEN_TEST_PG_URL"

# Run the command in the foreground (not exec: the EXIT trap must run afterwards).
set +e
"$@"
rc=$?
set -e
log "command exited with status $rc; stopping server"
exit "$rc"
