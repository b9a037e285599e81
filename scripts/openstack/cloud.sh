#!/usr/bin/env bash
# A real OpenStack control plane on this machine, for herd's engine tests: Debian 12's packages
# (OpenStack Zed) of Keystone, Glance, Placement, Nova, Neutron, Octavia and Cinder, with MariaDB
# and RabbitMQ, every server on 127.0.0.1, started as plain processes (no systemd needed).
#   - servers are Nova instances of the "fake" hypervisor on two compute hosts (soft
#     anti-affinity spreads them); they go ACTIVE in seconds and run nothing;
#   - ports are bound by a tiny ML2 driver (ml2/herd_ml2) without any agent;
#   - load balancers are Octavia amphorae that are such fake servers, with the "noop" agent
#     driver and real Neutron VIP ports (allowed-address-pairs network driver);
#   - volumes are Cinder's own fake driver (LVM needs device-mapper, which this kernel lacks);
#     they attach to the fake servers.
# Addresses handed out (server, VIP) are database records: nothing is plugged, nothing is sent
# anywhere.
#
# Usage:
#   scripts/openstack/cloud.sh install      apt packages + the ML2 driver (root; idempotent,
#                                           seconds when done)
#   scripts/openstack/cloud.sh start DIR    configures everything from scratch in DIR (which must
#                                           not hold a running cloud), starts it, fills it and
#                                           waits until every service answers; prints DIR. Writes
#                                           DIR/openrc (the test project `herd`, a tenant),
#                                           DIR/admin-openrc, DIR/clouds.yaml (clouds `herd`,
#                                           `herd-admin`), DIR/cloud.env (IDs: image, flavors,
#                                           network, subnet), DIR/pids/*.pid, DIR/logs/*.log
#   scripts/openstack/cloud.sh stop DIR     stops exactly the processes in DIR/pids
#
# Environment: HERD_OPENSTACK_PORT_BASE (default 25000): the ports used are BASE+0 … BASE+11.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
readonly here

log() { printf 'openstack: %s\n' "$*" >&2; }
die() {
    printf 'openstack: ERROR: %s\n' "$*" >&2
    exit 1
}

# Debian's Python, never a pyenv shim that may come first on the PATH: the OpenStack services and
# clients are Debian's.
readonly PY=/usr/bin/python3

readonly PACKAGES=(
    mariadb-server rabbitmq-server uwsgi uwsgi-plugin-python3
    keystone glance-api placement-api
    nova-api nova-conductor nova-scheduler nova-compute
    # nova-compute needs a hypervisor package: Ironic's driver satisfies it without qemu/libvirt
    # (the services run the fake driver).
    nova-compute-ironic
    neutron-server
    octavia-api octavia-worker
    cinder-api cinder-scheduler cinder-volume
    python3-openstackclient python3-octaviaclient
    lvm2 thin-provisioning-tools openssl
)
# Packages that ask dbconfig-common to create their database: herd configures its own.
readonly DBCONFIG_PACKAGES=(keystone glance-common placement-common nova-common neutron-common octavia-common cinder-common)

ml2_installed() {
    "$PY" - <<'EOF' 2>/dev/null
from importlib.metadata import entry_points
import sys
sys.exit(0 if any(e.name == "herd" for e in entry_points(group="neutron.ml2.mechanism_drivers")) else 1)
EOF
}

# The ML2 driver goes into Debian's Python (its site directory for local packages), with a
# dist-info that registers its entry point: neutron-server finds drivers by entry point only.
install_ml2() {
    local site=/usr/local/lib/python3.11/dist-packages
    "$PY" -c 'import sys; sys.exit(0 if "/usr/local/lib/python3.11/dist-packages" in sys.path else 1)' ||
        die "$site is not on the path of $PY"
    mkdir -p "$site"
    rm -rf "$site/herd_ml2" "$site"/herd_ml2-*.dist-info
    cp -r "$here/ml2/herd_ml2" "$site/herd_ml2"
    local info="$site/herd_ml2-1.0.dist-info"
    mkdir -p "$info"
    printf 'Metadata-Version: 2.1\nName: herd-ml2\nVersion: 1.0\nSummary: ML2 driver binding every port (herd engine tests)\n' >"$info/METADATA"
    cp "$here/ml2/entry_points.txt" "$info/entry_points.txt"
    echo "herd-openstack" >"$info/INSTALLER"
    printf 'herd_ml2/__init__.py,,\nherd_ml2-1.0.dist-info/METADATA,,\nherd_ml2-1.0.dist-info/entry_points.txt,,\nherd_ml2-1.0.dist-info/INSTALLER,,\nherd_ml2-1.0.dist-info/RECORD,,\n' >"$info/RECORD"
    "$PY" -c 'import herd_ml2' || die "the ML2 driver does not import in $PY"
}

cmd_install() {
    [ "$(id -u)" -eq 0 ] || die "install needs root (apt-get)"
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        local t=$SECONDS
        log "installing ${#missing[@]} packages: ${missing[*]}"
        for p in "${DBCONFIG_PACKAGES[@]}"; do
            printf '%s %s/dbconfig-install boolean false\n%s %s/configure_db boolean false\n' "$p" "$p" "$p" "$p"
        done | debconf-set-selections
        # Package scripts must start nothing (there is no init system to stop it again, and the
        # services would start with Debian's configuration): a policy-rc.d that forbids all.
        local policy=/usr/sbin/policy-rc.d saved=""
        if [ -e "$policy" ]; then
            saved=$(mktemp)
            cp -p "$policy" "$saved"
        fi
        printf '#!/bin/sh\n# herd: scripts/openstack/cloud.sh install; start nothing\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        local rc=0
        {
            [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -print -quit)" ] || apt-get update
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
        } >/tmp/herd-openstack-apt.log 2>&1 || rc=$?
        if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi
        [ "$rc" -eq 0 ] || die "apt-get install failed ($rc); the end of /tmp/herd-openstack-apt.log:
$(tail -n 30 /tmp/herd-openstack-apt.log)"
        log "packages installed in $((SECONDS - t)) s"
    fi
    if ! ml2_installed || ! cmp -s "$here/ml2/herd_ml2/__init__.py" /usr/local/lib/python3.11/dist-packages/herd_ml2/__init__.py; then
        install_ml2
        log "installed the ML2 driver herd_ml2"
    fi
    log "installed"
}

# --- start ------------------------------------------------------------------------------------

readonly REGION=RegionOne
readonly PASSWORD=herd-secret # every service's; the cloud is local and short-lived
readonly COMPUTE_HOSTS="herd-compute-1 herd-compute-2"

# Ports, all on 127.0.0.1.
base=${HERD_OPENSTACK_PORT_BASE:-25000}
readonly P_MYSQL=$base P_AMQP=$((base + 1)) P_EPMD=$((base + 2)) P_ERLDIST=$((base + 3))
readonly P_KEYSTONE=$((base + 5)) P_GLANCE=$((base + 6)) P_PLACEMENT=$((base + 7)) P_NOVA=$((base + 8))
readonly P_NEUTRON=$((base + 9)) P_OCTAVIA=$((base + 10)) P_CINDER=$((base + 11))
readonly H=127.0.0.1

port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | head -n 1; }

check_ports() {
    local name port owner
    for name in MYSQL AMQP EPMD ERLDIST KEYSTONE GLANCE PLACEMENT NOVA NEUTRON OCTAVIA CINDER; do
        port="P_$name"
        owner=$(port_owner "${!port}")
        [ -z "$owner" ] || die "port ${!port} (for ${name,,}) is already in use: $owner
(another cloud running? scripts/openstack/cloud.sh stop DIR; or choose other ports with HERD_OPENSTACK_PORT_BASE)"
    done
}

# Starts a long-running process detached from this script (its own session, so it outlives the
# caller's process group), logs to DIR/logs/NAME.log, records its PID in DIR/pids/NAME.pid with a
# marker that stop checks in /proc/PID/cmdline before signalling anything.
spawn() {
    local name=$1 marker=$2
    shift 2
    setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
    printf '%s\n%s\n' "$!" "$marker" >"$dir/pids/$name.pid"
}

# An API under uWSGI, on 127.0.0.1:PORT:
#   spawn_api NAME PORT WSGI-SCRIPT PROCESSES THREADS [VAR=VALUE…] [-- UWSGI-OPTION…]
# `Connection: close` because clients (keystoneauth, gophercloud) reuse connections that uWSGI's
# plain HTTP socket does not keep alive. SIGTERM stops it (--die-on-term), within seconds. The
# placeholder only puts DIR on its command line, for stop's check.
spawn_api() {
    local name=$1 port=$2 script=$3 processes=$4 threads=$5 envs=() opts=()
    shift 5
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    [ "$#" -eq 0 ] || {
        shift
        opts=("$@")
    }
    spawn "$name" "$dir" env "${envs[@]}" uwsgi --plugin python3 --http-socket "$H:$port" \
        --wsgi-file "$script" --master --die-on-term --enable-threads --thunder-lock \
        --processes "$processes" --threads "$threads" --lazy-apps --need-app --buffer-size 65535 \
        --add-header "Connection: close" --worker-reload-mercy 5 --reload-mercy 5 \
        --set-placeholder "herd_dir=$dir" "${opts[@]}"
}

wait_for() {
    local what=$1 timeout=$2 t=$SECONDS
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS - t < timeout)) || die "timed out after $timeout s waiting for $what (logs in $dir/logs)"
        check_alive
        sleep 0.5
    done
}

# Fails fast when a process that was started has died.
check_alive() {
    local f pid
    for f in "$dir"/pids/*.pid; do
        [ -e "$f" ] || continue
        pid=$(head -n 1 "$f")
        kill -0 "$pid" 2>/dev/null ||
            die "$(basename "$f" .pid) (PID $pid) exited; the end of its log:
$(tail -n 25 "$dir/logs/$(basename "$f" .pid).log" 2>/dev/null)"
    done
}

http_ok() { curl -fsS -o /dev/null --max-time 5 "$1"; }

db_url() { echo "mysql+pymysql://herd:$PASSWORD@$H:$P_MYSQL/$1?charset=utf8"; }

# The credentials a service uses to check tokens and to call the others.
authtoken() {
    cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://$H:$P_KEYSTONE
auth_url = http://$H:$P_KEYSTONE
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $PASSWORD
region_name = $REGION
service_token_roles_required = true
EOF
}

# Credentials of service user $2 in section [$1].
service_auth() {
    cat <<EOF
[$1]
auth_url = http://$H:$P_KEYSTONE
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $PASSWORD
region_name = $REGION
EOF
}

# The [DEFAULT] options every service shares: callers go on with more [DEFAULT] options, then
# their sections, then common_sections.
common() {
    cat <<EOF
[DEFAULT]
transport_url = rabbit://herd:$PASSWORD@$H:$P_AMQP/
my_ip = $H
host = herd-controller
graceful_shutdown_timeout = 5
EOF
}

common_sections() {
    cat <<EOF
[oslo_concurrency]
lock_path = $dir/state/locks
[oslo_messaging_notifications]
driver = noop
EOF
}

write_configs() {
    local etc=$dir/etc
    mkdir -p "$etc"/{keystone,glance,placement,nova,neutron,octavia,cinder,rabbitmq} \
        "$dir"/state/{locks,glance-images,nova,cinder,keystone/fernet-keys,keystone/credential-keys,octavia}
    # Keystone warns about key folders others can read.
    chmod 700 "$dir/state/keystone/fernet-keys" "$dir/state/keystone/credential-keys"

    # RabbitMQ: one node, loopback only, no plugins, its user from the config (no rabbitmqctl).
    cat >"$etc/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.1 = $H:$P_AMQP
loopback_users = none
default_user = herd
default_pass = $PASSWORD
log.console = true
log.file = false
disk_free_limit.absolute = 50MB
EOF
    echo '[].' >"$etc/rabbitmq/enabled_plugins"

    {
        cat <<EOF
[database]
connection = $(db_url keystone)
[fernet_tokens]
key_repository = $dir/state/keystone/fernet-keys
[credential]
key_repository = $dir/state/keystone/credential-keys
[token]
provider = fernet
EOF
    } >"$etc/keystone/keystone.conf"

    # Glance's WSGI app reads its paste file from its configuration folder.
    cp /etc/glance/glance-api-paste.ini "$etc/glance/"
    {
        common
        cat <<EOF
enabled_backends = fs:file
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $dir/state/glance-images
[os_glance_staging_store]
filesystem_store_datadir = $dir/state/glance-staging
[os_glance_tasks_store]
filesystem_store_datadir = $dir/state/glance-tasks
[database]
connection = $(db_url glance)
[paste_deploy]
flavor = keystone
EOF
        authtoken glance
        common_sections
    } >"$etc/glance/glance-api.conf"

    {
        cat <<EOF
[api]
auth_strategy = keystone
[placement_database]
connection = $(db_url placement)
EOF
        authtoken placement
    } >"$etc/placement/placement.conf"

    # Nova: Debian's defaults (in /etc/nova) are not read: OS_NOVA_CONFIG_DIR and --config-file
    # point here. Fake hypervisor, no console proxies.
    cp /etc/nova/api-paste.ini "$etc/nova/"
    {
        common
        cat <<EOF
compute_driver = fake.FakeDriver
state_path = $dir/state/nova
instances_path = $dir/state/nova/instances
enabled_apis = osapi_compute
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $etc/nova/api-paste.ini
[scheduler]
discover_hosts_in_cells_interval = 5
workers = 1
[conductor]
workers = 1
[vnc]
enabled = false
[spice]
enabled = false
[serial_console]
enabled = false
[glance]
region_name = $REGION
[cinder]
os_region_name = $REGION
EOF
        authtoken nova
        service_auth placement placement
        service_auth neutron neutron
        # A Neutron call that never answers fails the build instead of hanging it forever.
        echo "timeout = 120"
        service_auth service_user nova
        echo "send_service_user_token = true"
        common_sections
    } >"$etc/nova/nova.conf"
    # The databases, for all but nova-compute (which must go through the conductor).
    printf '[api_database]\nconnection = %s\n[database]\nconnection = %s\n' \
        "$(db_url nova_api)" "$(db_url nova)" >"$etc/nova/nova-db.conf"
    local host i=0
    for host in $COMPUTE_HOSTS; do
        i=$((i + 1))
        printf '[DEFAULT]\nhost = %s\n' "$host" >"$etc/nova/compute-$i.conf"
    done

    # Neutron: ML2 with herd's agent-less driver; VXLAN tenant networks are records only.
    {
        common
        cat <<EOF
core_plugin = ml2
service_plugins = router,port_forwarding
auth_strategy = keystone
api_paste_config = /etc/neutron/api-paste.ini
state_path = $dir/state/neutron
dhcp_agent_notification = false
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
allow_overlapping_ips = true
[database]
connection = $(db_url neutron)
EOF
        authtoken neutron
        service_auth nova nova
        common_sections
    } >"$etc/neutron/neutron.conf"
    cat >"$etc/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = herd
extension_drivers = port_security
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
EOF

    # Octavia: amphorae are real Nova servers (fake hypervisor) on a management network, with
    # real Neutron ports for their VIPs (the Pulumi provider reads the VIP port's security
    # groups); only the agent inside them is "noop". (Octavia Zed's noop compute driver cannot
    # be used: its manager drops the interface it attaches, and the allowed-address-pairs driver
    # then fails on None.) Its image, flavor and network are made by bootstrap.py, which appends
    # their IDs here before octavia-worker starts. The amphora certificates need a CA, even
    # unused: a throwaway one.
    local ca=$dir/state/octavia
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=herd-octavia-ca" \
        -keyout "$ca/ca.key" -out "$ca/ca.pem" >/dev/null 2>&1
    cat "$ca/ca.pem" "$ca/ca.key" >"$ca/client.pem"
    {
        common
        cat <<EOF
[api_settings]
auth_strategy = keystone
enabled_provider_drivers = amphora:Amphora (noop agent),octavia:Amphora (noop agent)
default_provider_driver = amphora
[database]
connection = $(db_url octavia)
[controller_worker]
workers = 1
amphora_driver = amphora_noop_driver
compute_driver = compute_nova_driver
network_driver = allowed_address_pairs_driver
loadbalancer_topology = SINGLE
amp_image_tag = amphora
amp_flavor_id = herd-amphora
amp_active_retries = 120
amp_active_wait_sec = 1
client_ca = $ca/ca.pem
[certificates]
cert_generator = local_cert_generator
ca_certificate = $ca/ca.pem
ca_private_key = $ca/ca.key
[haproxy_amphora]
client_cert = $ca/client.pem
server_ca = $ca/ca.pem
[task_flow]
jobboard_enabled = false
[oslo_messaging]
topic = octavia_prov
[nova]
region_name = $REGION
endpoint_type = public
EOF
        authtoken octavia
        service_auth service_auth octavia
        printf '[neutron]\nregion_name = %s\nendpoint_type = public\n' "$REGION"
        common_sections
    } >"$etc/octavia/octavia.conf"

    # Cinder: no LVM here (the kernel has no device-mapper), so Cinder's own fake driver, which
    # keeps volumes as records and hands out a fake connection (enough for Nova's fake driver).
    cp /etc/cinder/api-paste.ini "$etc/cinder/"
    {
        common
        cat <<EOF
auth_strategy = keystone
api_paste_config = $etc/cinder/api-paste.ini
state_path = $dir/state/cinder
enabled_backends = herd
default_volume_type = __DEFAULT__
[database]
connection = $(db_url cinder)
[herd]
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = herd
target_helper = fake
EOF
        authtoken cinder
        service_auth nova nova
        common_sections
    } >"$etc/cinder/cinder.conf"
}

start_infra() {
    # epmd first, on loopback, so RabbitMQ does not start its own (on every address, unowned).
    spawn epmd "epmd -port $P_EPMD" epmd -port "$P_EPMD" -address "$H"
    wait_for epmd 20 port_listening "$P_EPMD"

    mkdir -p "$dir/rabbitmq"
    spawn rabbitmq "$dir" env HOME="$dir/rabbitmq" RUNNING_UNDER_SYSTEMD=true \
        RABBITMQ_CONF_ENV_FILE=/dev/null RABBITMQ_NODENAME=herd@localhost \
        RABBITMQ_CONFIG_FILE="$dir/etc/rabbitmq/rabbitmq.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/etc/rabbitmq/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$dir/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$dir/logs" \
        RABBITMQ_PID_FILE="$dir/rabbitmq/rabbitmq.pid" \
        RABBITMQ_DIST_PORT="$P_ERLDIST" ERL_EPMD_PORT="$P_EPMD" ERL_EPMD_ADDRESS="$H" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        /usr/lib/rabbitmq/bin/rabbitmq-server

    log "initialising MariaDB in $dir/mysql"
    mariadb-install-db --no-defaults --datadir="$dir/mysql" --user=root \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/logs/mariadb-install.log" 2>&1 ||
        die "mariadb-install-db failed: $(tail -n 20 "$dir/logs/mariadb-install.log")"
    spawn mariadb "$dir" mariadbd --no-defaults --datadir="$dir/mysql" --user=root \
        --socket="$dir/mysql.sock" --port="$P_MYSQL" --bind-address="$H" --skip-name-resolve \
        --pid-file="$dir/mysql.pid" --max-connections=1000 --performance-schema=OFF \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=0 \
        --character-set-server=utf8mb4 --log-error="$dir/logs/mariadb.log"
    wait_for MariaDB 60 mariadb --no-defaults -S "$dir/mysql.sock" -u root -e 'select 1'
    local db sql="CREATE USER 'herd'@'%' IDENTIFIED BY '$PASSWORD';"
    for db in keystone glance placement nova_api nova nova_cell0 neutron octavia cinder; do
        sql+="CREATE DATABASE $db; GRANT ALL ON $db.* TO 'herd'@'%';"
    done
    mariadb --no-defaults -S "$dir/mysql.sock" -u root -e "$sql"
    wait_for RabbitMQ 90 port_listening "$P_AMQP"
}

port_listening() { [ -n "$(port_owner "$1")" ]; }

readonly DATABASES="keystone glance placement nova_api nova nova_cell0 neutron octavia cinder"

# Creates every database schema, in parallel (each takes from seconds to a minute).
db_sync() {
    local etc=$dir/etc pids=() names=() i rc=0
    run() {
        local name=$1
        shift
        "$@" >"$dir/logs/dbsync-$name.log" 2>&1 &
        pids+=("$!")
        names+=("$name")
    }
    run keystone keystone-manage --config-file "$etc/keystone/keystone.conf" db_sync
    run glance glance-manage --config-file "$etc/glance/glance-api.conf" db_sync
    run placement placement-manage --config-file "$etc/placement/placement.conf" db sync
    local nm="nova-manage --config-file $etc/nova/nova.conf --config-file $etc/nova/nova-db.conf"
    run nova sh -c "$nm api_db sync && $nm cell_v2 map_cell0 --database_connection '$(db_url nova_cell0)' &&
        $nm cell_v2 create_cell --name cell1 && $nm db sync"
    run neutron neutron-db-manage --config-file "$etc/neutron/neutron.conf" \
        --config-file "$etc/neutron/ml2_conf.ini" upgrade heads
    run octavia octavia-db-manage --config-file "$etc/octavia/octavia.conf" upgrade head
    run cinder cinder-manage --config-file "$etc/cinder/cinder.conf" db sync
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            printf 'openstack: ERROR: database sync of %s failed:\n%s\n' "${names[$i]}" \
                "$(tail -n 20 "$dir/logs/dbsync-${names[$i]}.log")" >&2
            rc=1
        fi
    done
    [ "$rc" -eq 0 ] || exit 1
}

sql() { mariadb --no-defaults -S "$dir/mysql.sock" -u root "$@"; }

# The schemas: synced once, then loaded from a dump in the cache (a minute or two saved per
# start). The dump is keyed by the versions of the packages that define the schemas; the only
# start-specific rows in it, Nova's cell mappings (database and message-queue URLs, which hold
# the ports), are rewritten after loading.
schemas() {
    local cache key file
    cache="${HERD_OPENSTACK_CACHE:-$HOME/.cache/herd-openstack}/schemas"
    # shellcheck disable=SC2086 # one package per word
    key=$(dpkg-query -W -f='${Package}=${Version}\n' python3-keystone python3-glance python3-placement \
        python3-nova python3-neutron python3-octavia python3-cinder mariadb-server | sha256sum | cut -c1-12)
    file="$cache/$key.sql"
    if [ -s "$file" ]; then
        log "loading the schemas from $file"
        # shellcheck disable=SC2086
        sql -e "$(printf 'DROP DATABASE %s; ' $DATABASES)"
        sql <"$file"
        sql -e "UPDATE nova_api.cell_mappings SET database_connection = '$(db_url nova_cell0)' WHERE name = 'cell0';
            UPDATE nova_api.cell_mappings SET database_connection = '$(db_url nova)',
                transport_url = 'rabbit://herd:$PASSWORD@$H:$P_AMQP/' WHERE name = 'cell1';"
        return
    fi
    db_sync
    mkdir -p "$cache"
    # shellcheck disable=SC2086
    mariadb-dump --no-defaults -S "$dir/mysql.sock" -u root --databases $DATABASES >"$file.tmp"
    mv "$file.tmp" "$file"
    log "schemas saved in $file"
}

keystone_setup() {
    local k="keystone-manage --config-file $dir/etc/keystone/keystone.conf"
    {
        $k fernet_setup --keystone-user root --keystone-group root &&
            $k credential_setup --keystone-user root --keystone-group root &&
            $k bootstrap --bootstrap-password "$PASSWORD" --bootstrap-region-id "$REGION" \
                --bootstrap-admin-url "http://$H:$P_KEYSTONE/v3" --bootstrap-internal-url "http://$H:$P_KEYSTONE/v3" \
                --bootstrap-public-url "http://$H:$P_KEYSTONE/v3"
    } >"$dir/logs/keystone-bootstrap.log" 2>&1 ||
        die "keystone bootstrap failed: $(tail -n 20 "$dir/logs/keystone-bootstrap.log")"
}

# The APIs: they need Keystone only to serve requests, so they start (slowly: each imports its
# whole service) while bootstrap.py fills Keystone.
start_apis() {
    local etc=$dir/etc
    spawn_api glance "$P_GLANCE" /usr/bin/glance-wsgi-api 1 4 OS_GLANCE_CONFIG_DIR="$etc/glance"
    spawn_api placement "$P_PLACEMENT" /usr/bin/placement-api 1 4 OS_PLACEMENT_CONFIG_DIR="$etc/placement"
    # Nova's and Neutron's WSGI apps monkey-patch eventlet at import: one thread per process (as
    # Debian runs nova-api), or a request thread blocks for good on a green primitive whose hub
    # runs in another thread (seen: nova-api RPC calls to nova-compute ending in MessagingTimeout,
    # Neutron never answering a port update, so nova-compute waits forever on a BUILD server).
    spawn_api nova-api "$P_NOVA" /usr/bin/nova-api-wsgi 3 1 OS_NOVA_CONFIG_DIR="$etc/nova" \
        OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf;nova-db.conf"
    spawn_api neutron "$P_NEUTRON" /usr/bin/neutron-api 2 1 OS_NEUTRON_CONFIG_DIR="$etc/neutron" \
        OS_NEUTRON_CONFIG_FILES="neutron.conf;ml2_conf.ini"
    # These two read their configuration from the command line only.
    spawn_api octavia "$P_OCTAVIA" /usr/bin/octavia-wsgi 1 4 -- --pyargv "--config-file $etc/octavia/octavia.conf"
    spawn_api cinder-api "$P_CINDER" /usr/bin/cinder-wsgi 1 4 -- --pyargv "--config-file $etc/cinder/cinder.conf"
}

# The other services, once their users exist (nova-compute reports to Placement at start).
start_services() {
    local etc=$dir/etc n=$dir/etc/nova/nova.conf i=0 host
    spawn nova-conductor "$dir" nova-conductor --config-file "$n" --config-file "$etc/nova/nova-db.conf"
    spawn nova-scheduler "$dir" nova-scheduler --config-file "$n" --config-file "$etc/nova/nova-db.conf"
    for host in $COMPUTE_HOSTS; do
        i=$((i + 1))
        spawn "nova-compute-$i" "$dir" nova-compute --config-file "$n" --config-file "$etc/nova/compute-$i.conf"
    done
    spawn cinder-scheduler "$dir" cinder-scheduler --config-file "$etc/cinder/cinder.conf"
    spawn cinder-volume "$dir" cinder-volume --config-file "$etc/cinder/cinder.conf"
}

cmd_start() {
    dir=${1:?usage: $0 start DIR}
    [ "$(id -u)" -eq 0 ] || die "start needs root (the services run as root, in DIR)"
    ml2_installed || die "the cloud is not installed: run scripts/openstack/cloud.sh install"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local f
    for f in "$dir"/pids/*.pid; do
        [ -e "$f" ] || continue
        if kill -0 "$(head -n 1 "$f")" 2>/dev/null; then
            die "$dir holds a running cloud ($(basename "$f" .pid) is PID $(head -n 1 "$f")): scripts/openstack/cloud.sh stop $dir"
        fi
    done
    check_ports
    local t0=$SECONDS
    rm -rf "${dir:?}"/{etc,state,mysql,rabbitmq,logs,pids,openrc,clouds.yaml,cloud.env,mysql.sock,mysql.pid}
    mkdir -p "$dir/logs" "$dir/pids"
    # If anything below fails, stop what was started: a half-started cloud only holds ports.
    started=""
    trap 'if [ -z "$started" ]; then log "start failed: stopping what was started (logs in $dir/logs)"; cmd_stop "$dir" || true; fi' EXIT

    write_configs
    start_infra
    log "infrastructure up (MariaDB :$P_MYSQL, RabbitMQ :$P_AMQP) after $((SECONDS - t0)) s; creating the schemas"
    schemas
    keystone_setup
    log "schemas created after $((SECONDS - t0)) s"

    spawn_api keystone "$P_KEYSTONE" /usr/bin/keystone-wsgi-public 2 4 OS_KEYSTONE_CONFIG_DIR="$dir/etc/keystone"
    start_apis
    wait_for keystone 120 http_ok "http://$H:$P_KEYSTONE/v3"
    export HERD_KEYSTONE_URL=http://$H:$P_KEYSTONE/v3 HERD_ADMIN_PASSWORD=$PASSWORD HERD_REGION=$REGION \
        HERD_SERVICE_PASSWORD=$PASSWORD HERD_PROJECT=herd HERD_USER=herd HERD_USER_PASSWORD=$PASSWORD \
        HERD_GLANCE_URL=http://$H:$P_GLANCE HERD_PLACEMENT_URL=http://$H:$P_PLACEMENT \
        HERD_NOVA_URL=http://$H:$P_NOVA HERD_NEUTRON_URL=http://$H:$P_NEUTRON \
        HERD_OCTAVIA_URL=http://$H:$P_OCTAVIA HERD_CINDER_URL=http://$H:$P_CINDER \
        HERD_COMPUTE_HOSTS="$COMPUTE_HOSTS" HERD_IMAGE_NAME=herd-tiny HERD_SUBNET_CIDR=10.0.0.0/24 \
        HERD_AMQP_PORT=$P_AMQP
    "$PY" "$here/bootstrap.py" identity

    start_services
    local url
    for url in "$HERD_GLANCE_URL" "$HERD_PLACEMENT_URL" "$HERD_NOVA_URL" "$HERD_NEUTRON_URL" \
        "$HERD_OCTAVIA_URL" "$HERD_CINDER_URL"; do
        wait_for "$url" 120 http_ok "$url"
    done
    log "APIs answer after $((SECONDS - t0)) s"
    # Map the compute hosts to the cell as soon as they register (the scheduler also does it
    # every few seconds).
    wait_for "the compute hosts to register" 120 discover_hosts
    "$PY" "$here/bootstrap.py" resources >"$dir/cloud.env"
    # octavia-worker last: it needs the amphora network's ID.
    printf '[controller_worker]\namp_boot_network_list = %s\n' \
        "$(sed -n 's/^HERD_LB_MGMT_NETWORK_ID=//p' "$dir/cloud.env")" >"$dir/etc/octavia/amphora.conf"
    spawn octavia-worker "$dir" octavia-worker --config-file "$dir/etc/octavia/octavia.conf" \
        --config-file "$dir/etc/octavia/amphora.conf"
    "$PY" "$here/bootstrap.py" octavia-worker
    check_alive
    write_client_files
    started=yes
    log "cloud up in $((SECONDS - t0)) s: $dir (source $dir/openrc, or OS_CLOUD=herd with OS_CLIENT_CONFIG_FILE=$dir/clouds.yaml)"
    echo "$dir"
}

discover_hosts() {
    nova-manage --config-file "$dir/etc/nova/nova.conf" --config-file "$dir/etc/nova/nova-db.conf" \
        cell_v2 discover_hosts >/dev/null 2>&1
    local n
    n=$(mariadb --no-defaults -S "$dir/mysql.sock" -u root -N -e "select count(*) from nova_api.host_mappings")
    [ "$n" -ge 2 ]
}

write_client_files() {
    cat >"$dir/openrc" <<EOF
# The test project's credentials (a tenant: roles member and load-balancer_member).
export OS_AUTH_URL=http://$H:$P_KEYSTONE/v3
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=$REGION
export OS_PROJECT_NAME=herd
export OS_PROJECT_DOMAIN_NAME=Default
export OS_USERNAME=herd
export OS_USER_DOMAIN_NAME=Default
export OS_PASSWORD=$PASSWORD
export OS_INTERFACE=public
# \`openstack server create --nic none\` needs 2.37 at least.
export OS_COMPUTE_API_VERSION=2.79
EOF
    sed -e 's/OS_PROJECT_NAME=herd/OS_PROJECT_NAME=admin/' -e 's/OS_USERNAME=herd/OS_USERNAME=admin/' \
        -e 's/^# The test.*/# The cloud admin./' "$dir/openrc" >"$dir/admin-openrc"
    cat >"$dir/clouds.yaml" <<EOF
clouds:
  herd:
    auth:
      auth_url: http://$H:$P_KEYSTONE/v3
      project_name: herd
      project_domain_name: Default
      username: herd
      user_domain_name: Default
      password: $PASSWORD
    region_name: $REGION
    interface: public
    identity_api_version: 3
  herd-admin:
    auth:
      auth_url: http://$H:$P_KEYSTONE/v3
      project_name: admin
      project_domain_name: Default
      username: admin
      user_domain_name: Default
      password: $PASSWORD
    region_name: $REGION
    interface: public
    identity_api_version: 3
EOF
}

# --- stop -------------------------------------------------------------------------------------

# Stops exactly the processes recorded in DIR/pids, each only if /proc/PID/cmdline still shows
# the marker recorded with it (a PID reused by something else is left alone). Services first,
# then RabbitMQ, MariaDB, epmd. SIGTERM, then SIGKILL after a bounded wait.
cmd_stop() {
    local d=${1:?usage: $0 stop DIR} f name services=()
    if [ ! -d "$d/pids" ]; then
        log "nothing to stop in $d"
        return 0
    fi
    for f in "$d"/pids/*.pid; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .pid)
        case "$name" in
            rabbitmq | mariadb | epmd) ;;
            *) services+=("$f") ;;
        esac
    done
    # The services all at once, then what they use, one at a time.
    stop_pids "${services[@]+"${services[@]}"}"
    for name in rabbitmq mariadb epmd; do
        stop_pids "$d/pids/$name.pid"
    done
    log "stopped ($d)"
}

stop_pids() {
    local f pid marker name live=() still t
    for f in "$@"; do
        [ -e "$f" ] || continue
        pid=$(head -n 1 "$f")
        marker=$(sed -n 2p "$f")
        name=$(basename "$f" .pid)
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$f"
            continue
        fi
        if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"; then
            log "WARNING: PID $pid ($name) is no longer the process that was started (its command line lacks '$marker'); left alone"
            rm -f "$f"
            continue
        fi
        kill -TERM "$pid" 2>/dev/null || true
        live+=("$f")
    done
    t=$SECONDS
    while [ "${#live[@]}" -gt 0 ]; do
        still=()
        for f in "${live[@]}"; do
            pid=$(head -n 1 "$f")
            if kill -0 "$pid" 2>/dev/null; then still+=("$f"); else rm -f "$f"; fi
        done
        live=("${still[@]+"${still[@]}"}")
        [ "${#live[@]}" -gt 0 ] || break
        if ((SECONDS - t >= 30)); then
            for f in "${live[@]}"; do
                pid=$(head -n 1 "$f")
                log "WARNING: $(basename "$f" .pid) (PID $pid) ignored SIGTERM for 30 s: SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                rm -f "$f"
            done
            break
        fi
        sleep 0.3
    done
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start "${2:-}" ;;
    stop) cmd_stop "${2:?usage: $0 stop DIR}" ;;
    *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
