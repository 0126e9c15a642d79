"""CCP (RFC 1962) and its methods: Deflate, BSD-Compress, MPPE.

Every method speaks the interface of ``methods.py``; CCP negotiates one per
direction on the RFC 1661 automaton.
"""
