"""DKIM keys: generating them, the TXT record that publishes one, and
asking DNS whether it does.

Keys are made with ``cryptography``: RSA (2048 or 3072 bits, rsa-sha256)
or Ed25519 (RFC 8463, ed25519-sha256).  The private key is PEM (PKCS#8),
which OpenDKIM reads from its KeyTable as it is.
"""

import base64
import re

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _

ALGORITHMS = ('rsa-2048', 'rsa-3072', 'ed25519')
DEFAULT_ALGORITHM = 'rsa-2048'
# A TXT record is a list of strings of at most 255 octets each.
TXT_STRING_LENGTH = 255
_SELECTOR = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
                       r'(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$')


def check_selector(text):
    """A selector as DNS labels (letters, digits, hyphens), lower-cased."""
    selector = text.strip().lower()
    if len(selector) > 63 or not _SELECTOR.match(selector):
        raise VMMError(_("Invalid DKIM selector: '%s' (letters, digits and "
                         "inner hyphens, at most 63 characters)") % text,
                       errors.INVALID_OPTION)
    return selector


def generate(algorithm):
    """A new key pair: (private key PEM, the record's p= value)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    if algorithm == 'ed25519':
        key = ed25519.Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        key = rsa.generate_private_key(public_exponent=65537,
                                       key_size=int(algorithm[4:]))
        public = key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode('ascii')
    return private, base64.b64encode(public).decode('ascii')


def record_name(selector, domain):
    """Where the key's TXT record lives (ACE form, no trailing dot)."""
    return '%s._domainkey.%s' % (selector, domain)


def record_value(algorithm, public_key):
    """The TXT record's text, as one string."""
    kind = 'ed25519' if algorithm == 'ed25519' else 'rsa'
    return 'v=DKIM1; k=%s; p=%s' % (kind, public_key)


def split_strings(value):
    """The record's text as the strings of a TXT record (≤ 255 each)."""
    return [value[i:i + TXT_STRING_LENGTH]
            for i in range(0, len(value), TXT_STRING_LENGTH)]


def _tags(text):
    tags = {}
    for part in text.split(';'):
        name, sep, value = part.partition('=')
        if sep:
            tags[name.strip()] = re.sub(r'\s+', '', value)
    return tags


def matches(published, algorithm, public_key):
    """Whether a TXT record's text publishes this key (same k= and p=;
    spacing and the order of tags do not matter)."""
    tags = _tags(published)
    kind = 'ed25519' if algorithm == 'ed25519' else 'rsa'
    return (tags.get('v', 'DKIM1') == 'DKIM1'
            and tags.get('k', 'rsa') == kind
            and tags.get('p') == public_key)


def _resolver(nameserver):
    import dns.resolver
    if not nameserver:
        return dns.resolver.Resolver()
    host, port = nameserver, 53
    if nameserver.count(':') == 1 or nameserver.startswith('['):
        host, _sep, port_text = nameserver.rpartition(':')
        host, port = host.strip('[]'), int(port_text)
    if not re.match(r'^[0-9.]+$|:', host):
        import socket
        host = socket.getaddrinfo(host, port)[0][4][0]
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = port
    return resolver


def published_texts(name, nameserver=None, timeout=5.0):
    """The TXT records DNS answers for *name*, each as one string; an
    empty list when there is none.  A DNS failure is a VMMError."""
    import dns.exception
    import dns.resolver
    try:
        answer = _resolver(nameserver).resolve(name + '.', 'TXT',
                                               lifetime=timeout)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.DNSException, OSError, ValueError) as err:
        raise VMMError(_("DNS did not answer for %(name)s: %(error)s")
                       % {'name': name, 'error': err or type(err).__name__},
                       errors.VMM_ERROR) from err
    return [b''.join(record.strings).decode('ascii', 'replace')
            for record in answer]


def is_published(name, algorithm, public_key, nameserver=None):
    return any(matches(text, algorithm, public_key)
               for text in published_texts(name, nameserver))
