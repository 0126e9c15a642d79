"""The lab: virtual hardware for tests, benchmarks and the demo.

A virtual null-modem cable between two real ptys (``cable``, ``cable_process``,
paced at a line rate by ``pacing``), emulated Hayes modems and a virtual
exchange (``modem``), and qemu VMs running Debian's kernel with pppd, chat and a
USB gadget (``vm``).  Nothing in the product imports it.
"""
