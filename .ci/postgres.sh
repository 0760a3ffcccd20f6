# shellcheck shell=bash
# A private PostgreSQL cluster for the tests. Source it, do not run it:
#
#     source .ci/postgres.sh      # starts the cluster and exports the variables below
#     cargo test --workspace      # the PostgreSQL tests run instead of skipping
#     herald_pg_stop              # stops it and deletes its directory
#
# It initialises a cluster in a new temporary directory (trust authentication, C locale),
# listens on a free port on 127.0.0.1 with its unix socket inside that directory, starts it
# and waits until it accepts connections. Nothing is installed in the caller's shell but the
# variables and the two functions; no trap either: whoever sources it stops it.
#
# Exports:
#   HERALD_TEST_DATABASE_URL  admin URL, postgres://postgres@127.0.0.1:PORT/postgres
#   HERALD_TEST_PG_CTL        path of pg_ctl, to stop and start the server from a test
#   HERALD_TEST_PG_DATA       the cluster's data directory (pg_ctl -D)
#   HERALD_TEST_PG_USER       the OS user pg_ctl must run as (empty: the current user)
#   HERALD_TEST_PG_DIR        the temporary directory holding it all (log: $DIR/postgres.log)
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
# (or `nobody` if there is none) and every pg_ctl call goes through runuser. Without initdb
# on the machine, Debian's `postgresql` package is installed first (root only).

# Runs a command as the cluster's owner.
_herald_pg_as() {
    if [ -z "${HERALD_TEST_PG_USER:-}" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$HERALD_TEST_PG_USER" -- "$@"
    else
        su -s /bin/sh "$HERALD_TEST_PG_USER" -c "$(printf '%q ' "$@")"
    fi
}

# The directory holding initdb and pg_ctl: Debian's newest versioned one, else PATH's.
_herald_pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
    else
        return 1
    fi
}

# A TCP port nobody listens on right now (the kernel's choice for port 0).
_herald_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 40000))
}

herald_pg_start() {
    local bindir dir port user deadline
    if ! bindir=$(_herald_pg_bindir); then
        if [ "$(id -u)" != 0 ]; then
            echo "postgres.sh: no initdb found and not root to install postgresql" >&2
            return 1
        fi
        echo "postgres.sh: installing postgresql from Debian's packages" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
            || { echo "postgres.sh: installing postgresql failed" >&2; return 1; }
        bindir=$(_herald_pg_bindir) || { echo "postgres.sh: still no initdb" >&2; return 1; }
    fi

    user=""
    if [ "$(id -u)" = 0 ]; then
        if id postgres >/dev/null 2>&1; then user=postgres; else user=nobody; fi
    fi
    export HERALD_TEST_PG_USER="$user"

    dir=$(mktemp -d "${TMPDIR:-/tmp}/herald-pg.XXXXXX") || return 1
    chmod 700 "$dir"
    if [ -n "$user" ]; then
        chown "$user" "$dir" || return 1
    fi
    # initdb and postgres change into their own directories; starting from one the owner may
    # not read (root's working directory) would only print warnings, so start from the cluster's.
    if ! (cd "$dir" && _herald_pg_as "$bindir/initdb" -D "$dir/data" -U postgres -A trust \
            -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1); then
        echo "postgres.sh: initdb failed:" >&2
        cat "$dir/initdb.log" >&2
        return 1
    fi

    port=$(_herald_pg_free_port)
    # Settings in the data directory, so a plain `pg_ctl start` (after a test stops the server)
    # comes back on the same port. fsync=off: a test cluster need not survive the machine
    # crashing, only the server (kill -9 or immediate stop), which WAL in the page cache does;
    # synchronous_commit stays on so an acknowledged commit is in the WAL.
    cat >>"$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 400
fsync = off
full_page_writes = off
EOF

    if ! (cd "$dir" && _herald_pg_as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
            -w -t 60 start >/dev/null); then
        echo "postgres.sh: the server did not start:" >&2
        tail -n 20 "$dir/postgres.log" >&2
        return 1
    fi
    deadline=$((SECONDS + 30))
    until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "postgres.sh: the server did not accept connections within 30 s" >&2
            return 1
        fi
        sleep 0.2
    done

    export HERALD_TEST_PG_CTL="$bindir/pg_ctl"
    export HERALD_TEST_PG_DATA="$dir/data"
    export HERALD_TEST_PG_DIR="$dir"
    export HERALD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "postgres.sh: PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') at $HERALD_TEST_DATABASE_URL ($dir)" >&2
}

herald_pg_stop() {
    if [ -z "${HERALD_TEST_PG_DIR:-}" ]; then
        return 0
    fi
    (cd "$HERALD_TEST_PG_DIR" && _herald_pg_as "$HERALD_TEST_PG_CTL" -D "$HERALD_TEST_PG_DATA" \
        -m fast -w stop >/dev/null 2>&1) || true
    rm -rf "$HERALD_TEST_PG_DIR"
    unset HERALD_TEST_DATABASE_URL HERALD_TEST_PG_CTL HERALD_TEST_PG_DATA HERALD_TEST_PG_USER \
        HERALD_TEST_PG_DIR
}

herald_pg_start
