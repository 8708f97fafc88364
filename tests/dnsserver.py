"""A private authoritative DNS server on loopback for the DKIM tests:
it answers TXT queries from a dict that the test fills with the records
``vmm dkiminfo`` prints (dnslib, UDP and TCP on one free port)."""

import socket

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _Records(BaseResolver):
    def __init__(self):
        self.txt = {}          # name without trailing dot -> [strings]

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip('.').lower()
        if request.q.qtype == QTYPE.TXT and name in self.txt:
            reply.add_answer(RR(name + '.', QTYPE.TXT, ttl=60,
                                rdata=TXT([s.encode('ascii')
                                           for s in self.txt[name]])))
        elif name not in self.txt:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


# Only errors: the requests would land in the output of vmm, which the
# tests run in this process.
_QUIET = DNSLogger('-recv,-send,-request,-reply,-truncated,-data')


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(('127.0.0.1', 0))
        return udp.getsockname()[1]


class TxtServer:
    """``with TxtServer() as dns: dns.publish(name, strings)``;
    ``dns.address`` is ``127.0.0.1:PORT`` for ``[dkim] nameserver``."""

    def __init__(self):
        self.records = _Records()
        self.port = _free_port()
        self.address = '127.0.0.1:%d' % self.port
        self._servers = [DNSServer(self.records, port=self.port,
                                   address='127.0.0.1', tcp=tcp,
                                   logger=_QUIET)
                         for tcp in (False, True)]

    def publish(self, name, strings):
        self.records.txt[name.rstrip('.').lower()] = list(strings)

    def withdraw(self, name):
        self.records.txt.pop(name.rstrip('.').lower(), None)

    def __enter__(self):
        for server in self._servers:
            server.start_thread()
        return self

    def __exit__(self, *exc):
        for server in self._servers:
            server.stop()
