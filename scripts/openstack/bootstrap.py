"""Fills the OpenStack that scripts/openstack/cloud.sh starts: one Python process per phase,
because each call of the `openstack` command line costs seconds of start-up.

    bootstrap.py identity   services, endpoints, service users, the test project and user
    bootstrap.py resources  flavors, an image, the network herd-net, quotas; waits until both
                            compute hosts, the volume service and every API answer; prints
                            KEY=VALUE lines (IDs) for DIR/cloud.env

Settings come from the environment that cloud.sh passes (HERD_*). Runs with Debian's Python.
"""

import os
import sys
import time

import openstack

E = os.environ
ADMIN = dict(
    auth_url=E["HERD_KEYSTONE_URL"],
    username="admin",
    password=E["HERD_ADMIN_PASSWORD"],
    project_name="admin",
    user_domain_name="Default",
    project_domain_name="Default",
)
REGION = E["HERD_REGION"]
SERVICES = [
    # user, service type, service name, endpoint URL
    ("glance", "image", "glance", E["HERD_GLANCE_URL"]),
    ("placement", "placement", "placement", E["HERD_PLACEMENT_URL"]),
    ("nova", "compute", "nova", E["HERD_NOVA_URL"] + "/v2.1"),
    ("neutron", "network", "neutron", E["HERD_NEUTRON_URL"]),
    ("octavia", "load-balancer", "octavia", E["HERD_OCTAVIA_URL"]),
    ("cinder", "volumev3", "cinderv3", E["HERD_CINDER_URL"] + "/v3/%(project_id)s"),
    # The same service under its newer type name, which newer clients look up first.
    (None, "block-storage", "cinder", E["HERD_CINDER_URL"] + "/v3/%(project_id)s"),
]


def log(msg):
    print("openstack: " + msg, file=sys.stderr, flush=True)


def connect(**auth):
    return openstack.connect(auth=auth, region_name=REGION, identity_interface="public")


def identity():
    conn = connect(**ADMIN)
    idc = conn.identity
    service_project = idc.create_project(name="service", domain_id="default")
    admin_role = idc.find_role("admin")
    # Services send their own token along with the user's (X-Service-Token); keystonemiddleware
    # accepts it only from a user with the role `service`.
    service_role = idc.find_role("service") or idc.create_role(name="service")
    for user, stype, sname, url in SERVICES:
        if user:
            u = idc.create_user(
                name=user, password=E["HERD_SERVICE_PASSWORD"], domain_id="default",
                default_project_id=service_project.id,
            )
            conn.grant_role(admin_role.id, user=u.id, project=service_project.id)
            conn.grant_role(service_role.id, user=u.id, project=service_project.id)
        svc = idc.create_service(name=sname, type=stype, is_enabled=True)
        for interface in ("public", "internal", "admin"):
            idc.create_endpoint(service_id=svc.id, interface=interface, url=url, region_id=REGION)
    # The test project and its user: member (and Octavia's load-balancer_member) only, as a
    # tenant has; herd runs with these credentials.
    project = idc.create_project(name=E["HERD_PROJECT"], domain_id="default",
                                 description="herd engine tests")
    user = idc.create_user(name=E["HERD_USER"], password=E["HERD_USER_PASSWORD"],
                           domain_id="default", default_project_id=project.id)
    for role in ("member", "load-balancer_member"):
        r = idc.find_role(role) or idc.create_role(name=role)
        conn.grant_role(r.id, user=user.id, project=project.id)
    log("identity: %d services, project %s, user %s" % (len(SERVICES), project.name, user.name))


def wait(what, check, timeout=300, every=1.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # the service is still starting
            last = e
        time.sleep(every)
    sys.exit("openstack: ERROR: timed out after %d s waiting for %s%s"
             % (timeout, what, " (last error: %s)" % last if last else ""))


def resources():
    conn = connect(**ADMIN)
    project = conn.identity.find_project(E["HERD_PROJECT"])
    out = {"OS_PROJECT_ID": project.id}

    # Every API answers a real, authenticated call.
    wait("glance", lambda: list(conn.image.images()) is not None)
    wait("placement", lambda: conn.placement.get("/resource_providers").ok)
    wait("neutron", lambda: list(conn.network.extensions()))
    wait("cinder", lambda: list(conn.block_storage.types()) is not None)
    wait("octavia", lambda: list(conn.load_balancer.providers()))
    # Both fake compute hosts up, mapped to the cell (cloud.sh runs discover_hosts) and known
    # to placement; the volume service up.
    hosts = E["HERD_COMPUTE_HOSTS"].split()
    wait("nova-compute on %s" % " ".join(hosts), lambda: {
        s.host for s in conn.compute.services(binary="nova-compute") if s.state == "up"
    } >= set(hosts))
    wait("the compute hosts in placement", lambda: {
        rp["name"] for rp in conn.placement.get("/resource_providers").json()["resource_providers"]
    } >= set(hosts))
    wait("cinder-volume", lambda: any(
        s["binary"] == "cinder-volume" and s["state"] == "up"
        for s in conn.block_storage.get("/os-services").json()["services"]))

    flavors = {}
    for name, vcpus, ram, disk in (("m1.small", 1, 2048, 20), ("m1.medium", 2, 4096, 40)):
        flavors[name] = conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk,
                                                   is_public=True).id
    out["HERD_FLAVOR_SMALL"] = flavors["m1.small"]
    out["HERD_FLAVOR_MEDIUM"] = flavors["m1.medium"]

    # A tiny raw image: the fake hypervisor never reads it.
    image = conn.image.create_image(
        name=E["HERD_IMAGE_NAME"], disk_format="raw", container_format="bare",
        visibility="public", data=b"\0" * 1024,
    )
    wait("image %s active" % image.id,
         lambda: conn.image.get_image(image.id).status == "active", timeout=60)
    out["HERD_IMAGE_ID"] = image.id

    # The test project's network (a VXLAN segment: records only, bound by herd's ML2 driver).
    net = conn.network.create_network(name="herd-net", project_id=project.id)
    subnet = conn.network.create_subnet(
        name="herd-subnet", network_id=net.id, project_id=project.id, ip_version=4,
        cidr=E["HERD_SUBNET_CIDR"], enable_dhcp=False,
    )
    out["HERD_NETWORK_ID"] = net.id
    out["HERD_SUBNET_ID"] = subnet.id

    # Room for a few fleets.
    conn.set_compute_quotas(project.id, instances=50, cores=200, ram=512000,
                            server_groups=20, server_group_members=50)
    conn.set_network_quotas(project.id, port=200, security_group=50, security_group_rule=500,
                            network=20, subnet=20)
    conn.set_volume_quotas(project.id, volumes=50, gigabytes=2000, snapshots=50)

    # What Octavia boots its amphorae from, in the service project: a tiny image tagged
    # `amphora`, a private flavor with a fixed ID (in octavia.conf), a management network.
    service = conn.identity.find_project("service")
    conn.compute.create_flavor(id="herd-amphora", name="herd-amphora", vcpus=1, ram=1024, disk=2,
                               is_public=False)
    conn.compute.flavor_add_tenant_access("herd-amphora", service.id)
    amp = conn.image.create_image(
        name="herd-amphora", disk_format="raw", container_format="bare", visibility="public",
        tags=["amphora"], data=b"\0" * 1024,
    )
    wait("image %s active" % amp.id,
         lambda: conn.image.get_image(amp.id).status == "active", timeout=60)
    mgmt = conn.network.create_network(name="lb-mgmt-net", project_id=service.id)
    conn.network.create_subnet(name="lb-mgmt-subnet", network_id=mgmt.id, project_id=service.id,
                               ip_version=4, cidr="10.255.0.0/22", enable_dhcp=False)
    out["HERD_LB_MGMT_NETWORK_ID"] = mgmt.id
    conn.set_compute_quotas(service.id, instances=200, cores=400, ram=1024000)
    conn.set_network_quotas(service.id, port=1000, security_group=500, security_group_rule=2000)

    for k, v in out.items():
        print("%s=%s" % (k, v))
    log("resources: flavors m1.small m1.medium, image %s, network herd-net" % E["HERD_IMAGE_NAME"])


def octavia_worker():
    """Waits until octavia-worker consumes its queue: a load balancer asked for before would
    wait for nothing (oslo.messaging drops what no queue is bound for)."""
    import amqp

    def declared():
        conn = amqp.Connection(host="127.0.0.1:%s" % E["HERD_AMQP_PORT"], userid="herd",
                               password=E["HERD_SERVICE_PASSWORD"])
        conn.connect()
        try:
            # The queue of the v2 ("amphora") provider driver, which herd uses.
            return conn.channel().queue_declare("octavia_provisioning_v2", passive=True)
        finally:
            conn.close()
    wait("octavia-worker to consume its queue", declared, timeout=120)
    log("octavia-worker ready")


if __name__ == "__main__":
    {"identity": identity, "resources": resources, "octavia-worker": octavia_worker}[sys.argv[1]]()
