"""A PPP conformance tester: crafted frames at someone else's PPP, verdicts per RFC rule.

``wanctl conformance PORT`` runs cases from RFC 1661 (LCP), 1662 (framing),
1334 and 1994 (PAP, CHAP), 1332, 1877 and 5072 (IPCP, its DNS options,
IPV6CP) against the implementation on the far end of a serial line, and
reports each as pass, fail or not applicable with one line of evidence.
"""
