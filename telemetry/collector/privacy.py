"""Client addresses are never kept whole: IPv4 is cut to its /24, IPv6 to its /48.

Pure functions, callable from any thread or task; used by the access log and by Segment events
whose context carries an `ip`.
"""

from __future__ import annotations

import ipaddress


def truncate_ip(address: str) -> str | None:
    """The network an address belongs to (`203.0.113.0`, `2001:db8:1::`), or None if not an IP."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
