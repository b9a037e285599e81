"""An ML2 mechanism driver that binds every port, for a Neutron that runs without agents.

herd's engine tests run neutron-server alone on one machine: no Open vSwitch, no Linux bridge, no
DHCP agent, so no mechanism driver that Debian ships can bind a port, and Nova refuses a server
whose port reports `binding_failed`. This driver binds any port on any segment, as an agent-less
"other" interface, and marks it ACTIVE: the addresses it hands out are database records only.
Nothing is plugged anywhere.

Registered as `herd` in the entry point group `neutron.ml2.mechanism_drivers`
(scripts/openstack/cloud.sh install puts it into Debian's Python).
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class HerdMechanismDriver(api.MechanismDriver):
    """Binds every port to the first segment offered, with no agent involved."""

    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OTHER,
                {portbindings.CAP_PORT_FILTER: True},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
