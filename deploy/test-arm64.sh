#!/usr/bin/env bash
# The arm64 check of deploy/install.sh (issue 18), in an emulated Debian bookworm arm64 root:
# no Pi, no binfmt_misc, no VM. PRoot runs every process of the root under qemu-user.
#
#   sudo nice -n 10 deploy/test-arm64.sh WORKDIR            bootstrap (or reuse) WORKDIR/root, then test
#   sudo deploy/test-arm64.sh --fresh WORKDIR                bootstrap the root again
#   sudo deploy/test-arm64.sh --mirror URL WORKDIR           another Debian mirror (default deb.debian.org)
#
# It installs proot, qemu-user-static and debootstrap with apt-get when they are missing, makes
# an arm64 bookworm root in WORKDIR/root (debootstrap --foreign, then its second stage under
# PRoot), copies this tree into it and, inside, with a stand-in systemctl and WORKDIR/pi as
# install.sh's --prefix (the x86_64 test's way, tests/integration/test_install_upgrade.py):
#   1. deploy/install.sh from the lock (requirements/runtime.txt, hashes): the service answers 200;
#   2. an upgrade to a build whose migration fails on purpose: rolled back by itself, the old
#      version serves with its data (the backup restored);
#   3. a good upgrade (one more migration), then `install.sh --rollback`: the old version, the
#      data as it was before the upgrade;
#   4. nothing compiled: no compiler in the root, every compiled dependency an aarch64 wheel,
#      what pip built (pip's log, "Created wheel") pure Python only.
# Then a PASS/FAIL summary with timings; logs in WORKDIR/logs. It downloads from Debian and PyPI
# (about 100 MB; 1 GB of disk), so it is not part of `make test`. Needs root (debootstrap);
# registers nothing with the kernel. Whole run: about 20 minutes on 2 cores (deploy/README.md).

# The checks are functions called through check(): shellcheck cannot see them called.
# shellcheck disable=SC2317
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly SRC
MIRROR=http://deb.debian.org/debian
FRESH=0
INSIDE=0
WORK=""

die() { printf 'test-arm64: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'test-arm64: %s\n' "$*"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --mirror)
            [[ $# -ge 2 ]] || die "--mirror needs a URL"
            MIRROR=$2
            shift 2
            ;;
        --fresh) FRESH=1; shift ;;
        --inside) INSIDE=1; shift ;;
        -h|--help) sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) die "unknown option: $1 (see --help)" ;;
        *) WORK=$1; shift ;;
    esac
done

# ============================================================================ inside the arm64 root

readonly PORT_FILE=/root/arm64-port
readonly RESULTS=/root/arm64-results.txt
# The stand-in systemctl's state: pid, calls, the daemon's log, what it told systemd.
readonly STATE=/run/casahub-arm64
readonly BIN=/root/arm64-bin
# Inside, WORK is install.sh's --prefix: a path that is the same inside the root and on the host.
# PRoot 5.1 does not translate faccessat2, which qemu's access() calls: os.access() (the daemon's
# data dir check) looks at the host's path. The same path on both sides makes that harmless, and
# rules out /var/lib/casahub (the host's own) and so a system install (no --prefix).
readonly OPT=$WORK/opt/casahub
readonly DATA=$WORK/var/lib/casahub
readonly CONFIG=$WORK/etc/casahub/casahub.toml
readonly UNIT=$WORK/etc/systemd/system/casahub.service

FAILED=0

# A line of the summary the host prints.
result() { printf '%s\n' "$*" >>"$RESULTS"; }

# check DESCRIPTION COMMAND...: runs COMMAND, records ok or FAIL; the run goes on either way.
check() {
    local what=$1
    shift
    if "$@"; then
        result "  ok    $what"
    else
        result "  FAIL  $what"
        FAILED=1
    fi
}

# Stands in for systemd, as in tests/integration/test_install_upgrade.py: runs the unit's
# ExecStartPre and ExecStart in its WorkingDirectory with its UMask and Environment, hands it
# NOTIFY_SOCKET and WATCHDOG_USEC, stops it with SIGTERM. As root, like the x86_64 test (as its
# user): a --prefix install makes no casahub user, and under PRoot a process that changed its
# uid cannot exec any more (PRoot's loader in /tmp is root's only). Sandboxing is systemd's.
write_fake_systemctl() {
    mkdir -p -- "$BIN" "$STATE"
    cat >"$BIN/systemctl" <<'FAKE'
#!/usr/bin/env bash
set -u
unit=$CASAHUB_TEST_UNIT
state=/run/casahub-arm64
pidfile=$state/casahub.pid
echo "$*" >>"$state/calls"
running() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
start() {
    running && return 0
    local cmd pre line
    cmd=$(sed -n 's/^ExecStart=//p' "$unit")
    (
        cd "$(sed -n 's/^WorkingDirectory=//p' "$unit")" || exit 1
        umask "$(sed -n 's/^UMask=//p' "$unit")"
        while IFS= read -r line; do export "${line?}"; done < <(sed -n 's/^Environment=//p' "$unit")
        export NOTIFY_SOCKET=$CASAHUB_TEST_NOTIFY WATCHDOG_USEC=30000000
        while IFS= read -r pre; do
            # "-" in front: its failure does not stop the start (systemd.service(5))
            if [[ $pre == -* ]]; then
                # shellcheck disable=SC2086  # the unit's command line, split as systemd splits it
                ${pre#-} >>"$state/daemon.log" 2>&1 </dev/null
            else
                # shellcheck disable=SC2086
                $pre >>"$state/daemon.log" 2>&1 </dev/null || exit 1
            fi
        done < <(sed -n 's/^ExecStartPre=//p' "$unit")
        # shellcheck disable=SC2086
        exec $cmd >>"$state/daemon.log" 2>&1 </dev/null
    ) &
    echo $! >"$pidfile"
}
stop() {
    if running; then
        local pid i
        pid=$(cat "$pidfile")
        kill -TERM "$pid"
        for i in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}
case $1 in
    daemon-reload|enable|disable|try-restart) ;;
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    is-active) running ;;
    *) echo "fake systemctl: $*" >&2; exit 1 ;;
esac
FAKE
    chmod 0755 -- "$BIN/systemctl"
}

# Collects what the daemon tells systemd (READY=1, WATCHDOG=1) into $STATE/notify.log, on an
# abstract socket: PRoot 5.1 does not translate the path of a datagram sent to a socket file.
start_notify_listener() {
    export CASAHUB_TEST_NOTIFY=@casahub-arm64-$$
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1][1:])
open(sys.argv[2] + ".ready", "w").close()
with open(sys.argv[2], "a") as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
        log.flush()
' "$CASAHUB_TEST_NOTIFY" "$STATE/notify.log" &
    NOTIFY_PID=$!
    local i
    for i in $(seq 100); do [[ -e $STATE/notify.log.ready ]] && break; sleep 0.1; done
    [[ $i -lt 100 ]] || die "the notify listener did not start"
}

# The version /api/v1/health reports (nothing when it does not answer 200).
health_version() {
    python3 - "$(cat "$PORT_FILE")" <<'PY' 2>/dev/null
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with urllib.request.urlopen(f"https://127.0.0.1:{sys.argv[1]}/api/v1/health", context=ctx, timeout=10) as r:
    if r.status == 200:
        print(json.loads(r.read()).get("version", "?"))
PY
}

# "USER_VERSION TABLE,TABLE,..." of the database.
schema() {
    python3 - "$DATA/casahub.db" <<'PY'
import contextlib, sqlite3, sys
with contextlib.closing(sqlite3.connect(sys.argv[1])) as c:
    v = c.execute("PRAGMA user_version").fetchone()[0]
    t = sorted(r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
print(v, ",".join(t))
PY
}

current_venv() { readlink -f -- "$OPT/current"; }
has_user_anna() { "$OPT/current/bin/casahub" user list --data-dir "$DATA" | grep -q anna; }
is_version() { [[ $(health_version) == "$1" ]]; }
schema_is() { [[ $(schema | cut -d' ' -f1) == "$1" ]]; }
has_table() { schema | cut -d' ' -f2 | tr ',' '\n' | grep -qx "$1"; }
no_table() { ! has_table "$1"; }
same_path() { [[ $1 == "$2" ]]; }
not_same_path() { [[ $1 != "$2" ]]; }
log_has() { grep -q -- "$2" "$1"; }
exists() { [[ -e $1 ]]; }
fails() { ! "$@"; }

# install.sh from tree $1 with pip's log in $2; the rest of the arguments go to install.sh.
run_install() {
    local tree=$1 piplog=$2
    shift 2
    PIP_LOG=$piplog bash "$tree/deploy/install.sh" --prefix "$WORK" --systemctl "$@"
}

# Asks the root's own package database: PRoot's qemu mode shows some host files through paths the
# root lacks (/usr/bin/gcc "exists" inside), so a file test would see the host's compiler.
no_compiler() {
    local pkg found=0
    for pkg in gcc g++ cpp clang gcc-12 tcc; do
        if dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok'; then
            echo "compiler package installed: $pkg"
            found=1
        fi
    done
    [[ $found -eq 0 ]]
}

# Every distribution in venv $1: its wheel tags (or how pip installed it from source) and whether
# it holds compiled code (*.so); fails when compiled code came from anything but an aarch64 wheel.
list_wheels() {
    "$1/bin/python" - <<'PY'
import importlib.metadata as md
bad = 0
for d in sorted(md.distributions(), key=lambda d: d.metadata["Name"].lower()):
    wheel = d.read_text("WHEEL")
    if wheel is None:
        how = "sdist (setup.py install)"
        tags = []
    else:
        tags = sorted({l.split(":", 1)[1].strip() for l in wheel.splitlines() if l.startswith("Tag:")})
        how = " ".join(tags)
    compiled = any(str(f).endswith(".so") or ".so." in str(f) for f in d.files or ())
    ok = not compiled or (tags and all("aarch64" in t for t in tags))
    bad += not ok
    kind = "compiled" if compiled else "pure"
    flag = "" if ok else "  <- compiled, not from an aarch64 wheel"
    print(f"    {d.metadata['Name']:<22} {d.version:<16} {kind:<8} {how}{flag}")
raise SystemExit(1 if bad else 0)
PY
}

# What pip built from source in logs $@ ("Created wheel for", "Running setup.py install for").
pip_built() {
    {
        sed -n 's/.*Created wheel for \([^:]*\): filename=\([^ ]*\).*/\1 (wheel \2)/p' "$@"
        sed -n 's/.*Running setup.py install for \([^ :]*\).*/\1 (setup.py install)/p' "$@"
    } | sort -u
}

inside() {
    : >"$RESULTS"
    export PATH=$BIN:$PATH CASAHUB_TEST_UNIT=$UNIT
    # Any compile that pip might try fails at once (and PRoot could otherwise run the host's gcc).
    export CC=/bin/false CXX=/bin/false
    write_fake_systemctl
    NOTIFY_PID=""
    trap 'systemctl stop casahub.service >/dev/null 2>&1 || true; [[ -z $NOTIFY_PID ]] || kill "$NOTIFY_PID" 2>/dev/null || true' EXIT
    start_notify_listener
    local trees=/root/src v1 v3 t0 schema0 out
    check "the machine is $(uname -m) (aarch64 expected), $(python3 -V 2>&1)" same_path "$(uname -m)" aarch64
    check "no compiler package in the root (dpkg), CC=CXX=/bin/false" no_compiler

    # A loopback port no one else uses; the hub's own TLS certificate (tls = auto).
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' >"$PORT_FILE"
    mkdir -p -- "$(dirname -- "$CONFIG")"
    printf '[web]\nlisten = "127.0.0.1:%s"\ntls = "auto"\n' "$(cat "$PORT_FILE")" >"$CONFIG"

    # 1. The first install, from the lock.
    result "1. install from the lock"
    t0=$SECONDS
    check "install.sh (exit 0)" run_install "$trees/v1" /root/pip-1.log >/root/install-1.log 2>&1
    result "    time: $((SECONDS - t0)) s"
    check "hashes checked" log_has /root/install-1.log "hashes checked"
    check "health 200, version $(health_version)" is_version "$(cat "$trees/v1/.version")"
    v1=$(current_venv)
    check "user added (casahub user add)" "$OPT/current/bin/casahub" user add anna --role owner --data-dir "$DATA" <<<"a long password"
    schema0=$(schema | cut -d' ' -f1)
    result "    schema version $schema0"
    t0=$SECONDS
    systemctl restart casahub.service
    check "restart to health 200" python3 "$trees/v1/deploy/wait_healthy.py" --config "$CONFIG" --timeout 120
    result "    start to health 200: $((SECONDS - t0)) s (ExecStartPre doctor included)"
    check "READY=1 and WATCHDOG=1 sent to the notify socket" \
        bash -c "grep -q READY=1 '$STATE/notify.log' && grep -q WATCHDOG=1 '$STATE/notify.log'"

    # 2. An upgrade whose migration fails: rolled back by itself.
    result "2. upgrade to 9.0.1, whose migration fails on purpose"
    t0=$SECONDS
    check "install.sh fails (exit non-zero)" fails run_install "$trees/broken" /root/pip-2.log >/root/install-2.log 2>&1
    result "    time: $((SECONDS - t0)) s (venv, backup, switch, 60 s health timeout, rollback)"
    check "said: rolling back ... serves again with its data" \
        bash -c "grep -q 'rolling back' /root/install-2.log && grep -q 'serves again with its data' /root/install-2.log"
    check "the migration error in the daemon's log" log_has "$STATE/daemon.log" nowhere
    check "current is the old venv again" same_path "$(current_venv)" "$v1"
    check "health 200, old version $(health_version)" is_version "$(cat "$trees/v1/.version")"
    check "schema back to $schema0 (the backup restored)" schema_is "$schema0"
    check "no table broken_was_here" no_table broken_was_here
    check "the user is still there" has_user_anna

    # 3. A good upgrade, 4. then --rollback by hand.
    result "3. upgrade to 9.0.2 (one more migration), then install.sh --rollback"
    t0=$SECONDS
    check "install.sh 9.0.2 (exit 0)" run_install "$trees/good" /root/pip-3.log >/root/install-3.log 2>&1
    result "    upgrade time: $((SECONDS - t0)) s"
    check "health 200, version 9.0.2" is_version 9.0.2
    check "migrated: table good_was_here" has_table good_was_here
    v3=$(current_venv)
    check "a new venv beside the old one" not_same_path "$v3" "$v1"
    t0=$SECONDS
    check "install.sh --rollback (exit 0)" bash "$trees/good/deploy/install.sh" --prefix "$WORK" --systemctl --rollback >/root/install-4.log 2>&1
    result "    rollback time: $((SECONDS - t0)) s"
    check "current is the old venv" same_path "$(current_venv)" "$v1"
    check "health 200, old version $(health_version)" is_version "$(cat "$trees/v1/.version")"
    check "schema back to $schema0" schema_is "$schema0"
    check "no table good_was_here" no_table good_was_here
    check "the user is still there" has_user_anna
    check "what 9.0.2 made of the data kept" exists "$OPT/backups/rolled-back-$(basename -- "$v3").chb"
    out=$(bash "$trees/good/deploy/install.sh" --prefix "$WORK" --systemctl --rollback 2>&1 || true)
    check "a second --rollback: nothing to go back to" grep -q "no previous version" <<<"$out"

    # 5. Nothing compiled.
    result "4. wheels (the old venv, as installed from the lock)"
    check "all compiled code from aarch64 wheels; what pip built is pure Python" list_wheels "$v1" >/root/wheels.txt
    while IFS= read -r line; do result "$line"; done </root/wheels.txt
    while IFS= read -r line; do result "    built from source by pip: $line"; done < <(pip_built /root/pip-[123].log)
    result "  (all checks ran)"
    return "$FAILED"
}

if [[ $INSIDE -eq 1 ]]; then
    inside
    exit $?
fi

# ============================================================================ on the host

[[ -n $WORK ]] || die "give a work directory (see --help)"
[[ $EUID -eq 0 ]] || die "run as root: debootstrap needs it"
mkdir -p -- "$WORK"
WORK=$(cd -- "$WORK" && pwd)
ROOT=$WORK/root
LOGS=$WORK/logs
# install.sh's --prefix, at the same path inside the root (bound) as here: see OPT above.
PI=$WORK/pi
rm -rf -- "$PI"
mkdir -p -- "$LOGS" "$PI"
START=$SECONDS

missing=()
for tool in proot qemu-aarch64-static debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    say "installing proot qemu-user-static debootstrap (missing: ${missing[*]})"
    apt-get update -qq >"$LOGS/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq proot qemu-user-static debootstrap >>"$LOGS/apt.log" 2>&1 \
        || die "apt-get install failed: $LOGS/apt.log"
fi

# Every process in the root, under qemu-aarch64 through PRoot (ptrace; no binfmt_misc).
# A clean environment: the host's pip settings (indexes, wheel dirs) are not the root's; its
# CA bundle is, since the host may reach PyPI through a proxy that bundle trusts.
in_root() {
    local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-60}")
    [[ ! -f $ROOT/root/host-ca.crt ]] || env+=(PIP_CERT=/root/host-ca.crt)
    local var
    for var in PIP_INDEX_URL http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY; do
        [[ -z ${!var:-} ]] || env+=("$var=${!var}")
    done
    env -i "${env[@]}" proot -q qemu-aarch64-static -r "$ROOT" -b /proc -b /dev -b /sys -b /etc/resolv.conf -b "$PI:$PI" -w /root "$@"
}

# 1. The arm64 root: debootstrap's first stage natively, its second stage under PRoot.
t0=$SECONDS
if [[ $FRESH -eq 0 && -f $ROOT/.casahub-arm64-root ]]; then
    boot_note="reused $ROOT (--fresh to make it again)"
else
    rm -rf -- "$ROOT"
    say "debootstrap, first stage ($MIRROR)"
    debootstrap --arch=arm64 --foreign --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$ROOT" "$MIRROR" >"$LOGS/debootstrap-1.log" 2>&1 || die "debootstrap failed: $LOGS/debootstrap-1.log"
    t1=$SECONDS
    # In a container debootstrap makes /proc a link to the host's: PRoot needs a directory to bind on.
    if [[ -L $ROOT/proc ]]; then rm -f -- "$ROOT/proc"; mkdir -- "$ROOT/proc"; fi
    say "debootstrap, second stage under qemu (several minutes)"
    in_root env DEBOOTSTRAP_DIR=/debootstrap /debootstrap/debootstrap --second-stage >"$LOGS/debootstrap-2.log" 2>&1 \
        || die "second stage failed: $LOGS/debootstrap-2.log"
    touch -- "$ROOT/.casahub-arm64-root"
    boot_note="first stage $((t1 - t0)) s, second stage (qemu) $((SECONDS - t1)) s"
fi
boot_time=$((SECONDS - t0))

# 2. This tree three times: as it is, an upgrade whose migration fails, a good upgrade.
copy_tree() {
    rm -rf -- "$2"
    mkdir -p -- "$2"
    tar -C "$SRC" --exclude=__pycache__ -cf - pyproject.toml README.md alarms drivers hub config deploy requirements \
        | tar -C "$2" -xf -
    sed -n 's/^version *= *"\([^"]*\)".*/\1/p' -- "$2/pyproject.toml" | head -n 1 >"$2/.version"
}
variant() {
    local dir=$1 version=$2 migrations=$3
    copy_tree "$SRC" "$dir"
    sed -i "0,/^version = \".*\"/s//version = \"$version\"/" -- "$dir/pyproject.toml"
    printf '\nMIGRATIONS = (*MIGRATIONS, %s)\n' "$migrations" >>"$dir/hub/store/db.py"
    printf '%s\n' "$version" >"$dir/.version"
}
copy_tree "$SRC" "$ROOT/root/src/v1"
variant "$ROOT/root/src/broken" 9.0.1 '"CREATE TABLE broken_was_here (x INTEGER);", "SELECT x FROM nowhere;"'
variant "$ROOT/root/src/good" 9.0.2 '"CREATE TABLE good_was_here (x INTEGER);"'
install -m 0755 -- "${BASH_SOURCE[0]}" "$ROOT/root/test-arm64.sh"
ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[[ ! -f $ca ]] || cp -- "$ca" "$ROOT/root/host-ca.crt"
# What an earlier run left: a new install each time.
rm -rf -- "$ROOT/run/casahub-arm64" "$ROOT/root/.cache/pip"
rm -f -- "$ROOT"/root/pip-*.log "$ROOT"/root/install-*.log "$ROOT/root/arm64-results.txt"

# 3. The scenario, in one PRoot session (PRoot waits for every process it traces: the daemon too).
say "install, failed upgrade, upgrade, --rollback inside the arm64 root (logs: $LOGS/inside.log)"
t0=$SECONDS
status=0
in_root bash /root/test-arm64.sh --inside "$PI" >"$LOGS/inside.log" 2>&1 || status=$?
inside_time=$((SECONDS - t0))
cp -- "$ROOT"/root/install-*.log "$ROOT"/root/pip-*.log "$LOGS/" 2>/dev/null || true
cp -- "$ROOT/run/casahub-arm64/daemon.log" "$ROOT/run/casahub-arm64/notify.log" "$LOGS/" 2>/dev/null || true

echo
echo "casahub arm64 check (Debian bookworm arm64 under qemu-user through PRoot)"
echo "  bootstrap: ${boot_time} s ($boot_note)"
echo "  scenario inside the root: ${inside_time} s"
compilers=""
for tool in cc gcc c++ g++ clang; do
    [[ ! -e $ROOT/usr/bin/$tool && ! -L $ROOT/usr/bin/$tool ]] || compilers+="$tool "
done
if [[ -z $compilers ]]; then
    echo "  ok    no cc, gcc, c++, g++ or clang in the root's /usr/bin (seen from the host)"
else
    echo "  FAIL  compilers in the root's /usr/bin: $compilers"
    status=1
fi
results=$ROOT/root/arm64-results.txt
if [[ -s $results ]]; then
    cat -- "$results"
fi
if ! grep -q '(all checks ran)' "$results" 2>/dev/null; then
    echo "  FAIL  the scenario stopped before its end: see $LOGS/inside.log"
    status=1
elif grep -q '^  FAIL' "$results"; then
    status=1
fi
echo "  total: $((SECONDS - START)) s; logs in $LOGS"
if [[ $status -eq 0 ]]; then
    echo "PASS"
else
    echo "FAIL"
fi
exit "$status"
