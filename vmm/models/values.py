"""Value types: parsed and validated forms of what users type.

Each parser raises VMMError with the exit code vmm(1) EXIT STATUS gives
the mistake, so callers never see half-valid input.
"""

import re

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.text import has_control, printable

MAX_DOMAIN_LENGTH = 253
MAX_LOCALPART_OCTETS = 64
MAX_ADDRESS_OCTETS = 320
MAX_TRANSPORT_LENGTH = 270

_LDH_LABEL = re.compile(r'(?!-)[a-z0-9-]{1,63}(?<!-)\Z')
_LOCALPART = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+\Z")
_PLACEHOLDER = re.compile(r'%[nd=]')


def _idna_error(name, reason=''):
    message = _("Invalid domain name: '%s'") % printable(name)
    if reason:
        message += ' (%s)' % printable(reason)
    return VMMError(message, errors.DOMAIN_INVALID)


class DomainName(str):
    """A domain name in ACE form (``xn--…``); ``.unicode`` for display."""

    __slots__ = ()

    def __new__(cls, name):
        return str.__new__(cls, cls.to_ace(name))

    @staticmethod
    def to_ace(name):
        if has_control(name):
            raise _idna_error(name, _('control characters are not allowed'))
        if not name:
            raise VMMError(_('No domain name given'), errors.DOMAIN_NO_NAME)
        lowered = name.lower()
        if lowered.isascii() and 'xn--' not in lowered:
            ace = lowered
        else:
            ace = _ace_from_idna(name)
        if len(ace) > MAX_DOMAIN_LENGTH:
            raise VMMError(_("The domain name '%s' is too long")
                           % printable(name), errors.DOMAIN_TOO_LONG)
        labels = ace.split('.')
        if len(labels) < 2 or not all(_LDH_LABEL.match(l) for l in labels):
            if any(len(l) > 63 for l in labels):
                raise VMMError(_("The domain name '%s' has a label longer "
                                 "than 63 characters") % printable(name),
                               errors.DOMAIN_TOO_LONG)
            raise _idna_error(name)
        if labels[-1].isdigit():
            raise _idna_error(name)
        for label in labels:
            # IDNA 2008 reserves "--" in the 3rd and 4th position for
            # encodings such as xn--; the idna package refuses them too.
            if label[2:4] == '--' and not label.startswith('xn--'):
                raise _idna_error(name, _("label '%s' has hyphens in the "
                                          "3rd and 4th position")
                                  % label)
        return ace

    @property
    def unicode(self):
        """The name for people: Unicode labels where they are IDN."""
        if 'xn--' not in self:
            return str(self)
        import idna
        try:
            return idna.decode(str(self))
        except idna.IDNAError:
            return str(self)


def _ace_from_idna(name):
    import idna
    try:
        ace = idna.encode(name, uts46=True).decode('ascii')
    except (idna.IDNAError, UnicodeError) as err:
        raise _idna_error(name, str(err)) from None
    # Round-trip ACE input so that bogus xn-- labels are refused too.
    try:
        idna.decode(ace)
    except (idna.IDNAError, UnicodeError) as err:
        raise _idna_error(name, str(err)) from None
    return ace


def display_domain(ace):
    """Unicode form of a stored ACE domain name."""
    return DomainName.unicode.fget(ace)


def display_order(shown):
    """Sort key of a name or address as shown: accents set aside first
    (bücher beside bucher, not after zoo), then the text itself, so that
    no database collation or locale decides the order."""
    import unicodedata
    plain = ''.join(char for char in unicodedata.normalize('NFKD', shown)
                    if not unicodedata.combining(char))
    return plain.casefold(), shown


def domain_order(ace):
    """Sort key of a stored ACE domain name: its Unicode form."""
    return display_order(display_domain(ace))


def check_localpart(localpart):
    """Validate and lower-case a local part (vmm(1) ARGUMENTS)."""
    if not localpart:
        raise VMMError(_('No local part given'), errors.LOCALPART_INVALID)
    if len(localpart.encode('utf-8', 'surrogateescape')) > \
            MAX_LOCALPART_OCTETS:
        raise VMMError(_("The local part '%s' is longer than 64 octets")
                       % printable(localpart), errors.LOCALPART_TOO_LONG)
    if not _LOCALPART.match(localpart) or localpart.startswith('.') or \
            localpart.endswith('.') or '..' in localpart:
        raise VMMError(_("The local part '%s' contains invalid characters")
                       % printable(localpart), errors.LOCALPART_INVALID)
    return localpart.lower()




MAX_NAME_LENGTH = 128


def check_text(text, what, multiline=False, max_length=None):
    """Free text (a note, a real name): valid Unicode without NUL and
    control characters (a note may have tabs and line breaks); exit 44."""
    if text is None:
        return None
    if has_control(text, '\t\n' if multiline else ''):
        raise VMMError(_("Invalid %(what)s: '%(text)s' (control characters "
                         "and invalid Unicode are not allowed)")
                       % {'what': what, 'text': printable(text[:100])},
                       errors.INVALID_OPTION)
    if max_length is not None and len(text) > max_length:
        raise VMMError(_('The %(what)s is longer than %(max)d characters')
                       % {'what': what, 'max': max_length},
                       errors.INVALID_OPTION)
    return text


class EmailAddress:
    """``localpart@domain``, validated; the domain stored in ACE form."""

    __slots__ = ('localpart', 'domain')

    def __init__(self, address):
        if isinstance(address, EmailAddress):
            self.localpart, self.domain = address.localpart, address.domain
            return
        if '\0' in address:
            raise VMMError(_('Invalid address: NUL characters are not '
                             'allowed'), errors.INVALID_ADDRESS)
        if address.count('@') != 1:
            raise VMMError(_("Invalid address: '%s'") % printable(address),
                           errors.INVALID_ADDRESS)
        localpart, domain = address.split('@')
        if not domain:
            raise VMMError(_("Missing domain name after '%s@'")
                           % printable(localpart), errors.DOMAIN_NO_NAME)
        self.localpart = check_localpart(localpart)
        self.domain = DomainName(domain)
        if len(str(self).encode('utf-8')) > MAX_ADDRESS_OCTETS:
            raise VMMError(_("The address '%s' is too long")
                           % printable(address), errors.INVALID_ADDRESS)

    def __str__(self):
        return '%s@%s' % (self.localpart, self.domain)

    def __repr__(self):
        return 'EmailAddress(%r)' % str(self)

    def __eq__(self, other):
        return isinstance(other, EmailAddress) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))

    @property
    def unicode(self):
        return '%s@%s' % (self.localpart, self.domain.unicode)

    @staticmethod
    def parse_destination(destination, placeholders=True):
        """Validate an alias/catch-all/relocated destination.

        Placeholders ``%n``, ``%d``, ``%=`` are kept verbatim (when
        *placeholders*) and filled in by the lookup functions; the rest is
        validated as an address and returned with its domain in ACE form.
        """
        if placeholders and '%' in destination:
            probe = _PLACEHOLDER.sub(lambda m: {'%n': 'n', '%d': 'd.example',
                                                '%=': 'n=d.example'}[m[0]],
                                     destination)
            if '%' in probe:
                raise VMMError(_("Invalid placeholder in '%s' (use %%n, %%d "
                                 "or %%=)") % printable(destination),
                               errors.INVALID_ADDRESS)
            EmailAddress(probe)
            local, _at, domain = destination.rpartition('@')
            if '%' in domain:
                return destination.lower() if '%' not in local else \
                    '%s@%s' % (local.lower(), domain.lower())
            return '%s@%s' % (local.lower(), DomainName(domain))
        return str(EmailAddress(destination))

    @staticmethod
    def display(address):
        """Unicode form of a stored ``local@ace-domain`` string."""
        local, _at, domain = address.rpartition('@')
        if 'xn--' not in domain or '%' in domain:
            return address
        return '%s@%s' % (local, display_domain(domain))


class QuotaLimit:
    """Storage bytes and message count; 0 means unlimited."""

    __slots__ = ('bytes', 'messages')
    # The suffix in either case (10k = 10K, 10g = 10G); no spaces.
    _UNITS = {'': 1, 'b': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3}
    _SIZE = re.compile(r'([0-9]{1,20})([bkmgBKMG]?)\Z')

    def __init__(self, bytes_, messages=0):
        self.bytes = bytes_
        self.messages = messages

    @classmethod
    def parse_bytes(cls, text):
        match = cls._SIZE.match(text)
        if not match:
            raise VMMError(_("Invalid storage size: '%s' (a whole number "
                             "with an optional suffix b, k, M or G in "
                             "either case, no spaces)")
                           % printable(text), errors.INVALID_OPTION)
        size = int(match.group(1)) * cls._UNITS[match.group(2).lower()]
        if size > 2 ** 63 - 1:
            raise VMMError(_("Storage size too large: '%s'")
                           % printable(text), errors.INVALID_OPTION)
        return size

    @staticmethod
    def parse_messages(text):
        text = str(text)
        if not text.isdigit() or not text.isascii() or \
                int(text) > 2 ** 31 - 1:
            raise VMMError(_("Invalid number of messages: '%s' (a whole "
                             "number, 0 for unlimited)") % printable(text),
                           errors.INVALID_OPTION)
        return int(text)

    @staticmethod
    def format_bytes(size):
        """Bytes in the largest unit that divides them, as vmm.cfg takes."""
        for suffix in ('G', 'M', 'k'):
            unit = QuotaLimit._UNITS[suffix.lower()]
            if size and size % unit == 0:
                return '%d%s' % (size // unit, suffix)
        return str(size)

    def __eq__(self, other):
        return (self.bytes, self.messages) == (other.bytes, other.messages)


SERVICES = ('smtp', 'pop3', 'imap', 'sieve')


class ServiceSet:
    """Which of smtp, pop3, imap and sieve an account may use."""

    __slots__ = SERVICES

    def __init__(self, smtp=True, pop3=True, imap=True, sieve=True):
        self.smtp, self.pop3, self.imap, self.sieve = smtp, pop3, imap, sieve

    @staticmethod
    def check_names(names):
        for name in names:
            if name not in SERVICES:
                raise VMMError(_("Unknown service: '%(service)s' (known: "
                                 "%(known)s)") % {
                                     'service': printable(name),
                                     'known': ', '.join(SERVICES)},
                               errors.UNKNOWN_SERVICE)
        return names

    def changed(self, enable=(), disable=()):
        values = {name: getattr(self, name) for name in SERVICES}
        values.update({name: True for name in enable})
        values.update({name: False for name in disable})
        return ServiceSet(**values)

    def as_tuple(self):
        return tuple(getattr(self, name) for name in SERVICES)

    def __eq__(self, other):
        return self.as_tuple() == other.as_tuple()


_TRANSPORT_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.+-]*\Z')
_SERVICE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_-]*\Z')
# Transports whose next hop is a text for the sender, spaces and all.
_TEXT_TRANSPORTS = ('error', 'retry', 'discard')


def _nexthop_problem(transport, nexthop):
    """What is wrong with *nexthop* as transport(5) reads it, or None."""
    if transport in _TEXT_TRANSPORTS:
        return _('control characters are not allowed') \
            if has_control(nexthop) else None
    if has_control(nexthop) or any(c.isspace() for c in nexthop):
        return _('spaces and control characters are not allowed')
    if nexthop.startswith('unix:'):
        return None if len(nexthop) > 5 else _('no socket path after unix:')
    host = nexthop[5:] if nexthop.startswith('inet:') else nexthop
    service = None
    if host.startswith('['):
        end = host.find(']')
        if end < 0:
            return _("'[' without ']'")
        if end == 1:
            return _('nothing between [ and ]')
        rest = host[end + 1:]
        if rest and not rest.startswith(':') or '[' in host[1:] or \
                ']' in rest:
            return _('only :port may follow [host]')
        service = rest[1:] if rest else None
        if rest and not service:
            return _("no port after ':'")
    elif '[' in host or ']' in host:
        return _("'[' and ']' only around the whole host, as in [host]:port")
    elif ':' in host:
        host, _colon, service = host.rpartition(':')
        if not host or not service:
            return _("host and port must both be given around ':'")
    if service is not None:
        if service.isdigit() and service.isascii():
            if not 1 <= int(service) <= 65535:
                return _('port %s is out of range (1-65535)') % service
        elif not _SERVICE.match(service):
            return _("'%s' is not a port number or service name") % service
    return None


class Transport(str):
    """A Postfix transport, ``transport:`` or ``transport:nexthop``, read
    as transport(5) reads it: a master.cf service name, then a next hop
    that is ``host``, ``host:port``, ``[host]``, ``[host]:port``,
    ``inet:host:port`` or ``unix:path``."""

    __slots__ = ()

    def __new__(cls, text):
        name, colon, nexthop = text.partition(':')
        if not text:
            problem = _('it is empty')
        elif len(text) > MAX_TRANSPORT_LENGTH:
            problem = _('longer than %d characters') % MAX_TRANSPORT_LENGTH
        elif not _TRANSPORT_NAME.match(name):
            problem = _('the part before the colon must be a master.cf '
                        'service name such as smtp or lmtp')
        elif not colon:
            problem = _("no colon: write '%s:' for the default next hop")\
                % name
        else:
            problem = _nexthop_problem(name, nexthop)
        if problem:
            raise VMMError(_("Invalid transport '%(transport)s': "
                             "%(problem)s (transport: or transport:nexthop, "
                             "see transport(5))")
                           % {'transport': printable(text[:100]),
                              'problem': problem}, errors.INVALID_OPTION)
        return str.__new__(cls, text)
