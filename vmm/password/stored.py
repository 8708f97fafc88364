"""Checking a ``{SCHEME}hash`` that a user gives (``userpassword --hash``,
an import) before it is stored: Dovecot must be able to verify it."""

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.password.schemes import (
    DEFAULT_ENCODING,
    RAW_LENGTH,
    SALTED,
    SCRAM_ROUNDS,
    split_scheme,
)
from vmm.text import has_control

_CRYPT_FORMATS = {
    'SHA512-CRYPT': (r'\$6\$(rounds=[0-9]+\$)?[^$]{0,16}\$[./0-9A-Za-z]{86}',
                     '$6$salt$hash'),
    'SHA256-CRYPT': (r'\$5\$(rounds=[0-9]+\$)?[^$]{0,16}\$[./0-9A-Za-z]{43}',
                     '$5$salt$hash'),
    'MD5-CRYPT': (r'\$1\$[^$]{0,8}\$[./0-9A-Za-z]{22}', '$1$salt$hash'),
    'BLF-CRYPT': (r'\$2[abxy]\$(0[4-9]|[12][0-9]|3[01])\$[./0-9A-Za-z]{53}',
                  '$2y$NN$salthash'),
    'DES-CRYPT': (r'[./0-9A-Za-z]{13}', '13 characters of [./0-9A-Za-z]'),
    'ARGON2I': (r'\$argon2i\$(v=[0-9]+\$)?m=[0-9]+,t=[0-9]+,p=[0-9]+'
                r'\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+',
                '$argon2i$v=19$m=…,t=…,p=…$salt$hash'),
    'ARGON2ID': (r'\$argon2id\$(v=[0-9]+\$)?m=[0-9]+,t=[0-9]+,p=[0-9]+'
                 r'\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+',
                 '$argon2id$v=19$m=…,t=…,p=…$salt$hash'),
    'PBKDF2': (r'\$1\$[^$]*\$[1-9][0-9]*\$[0-9a-fA-F]{40}',
               '$1$salt$rounds$<40 hex digits>'),
    'OTP': (r'(md4|md5|sha1) [0-9]+ [0-9A-Za-z]{1,16} [0-9a-fA-F]{16}',
            'algorithm sequence seed <16 hex digits>'),
    'PLAIN-TRUNC': (r'[0-9]+-.*', 'length-password'),
}


def _fullmatch(pattern, text):
    import re
    return re.fullmatch(pattern, text, re.ASCII | re.DOTALL) is not None


def _b64decode(text):
    """Decode base64 as strictly as Dovecot does, or return None."""
    import base64
    import binascii
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _hexdecode(text):
    if len(text) % 2 or not _fullmatch(r'[0-9a-fA-F]*', text):
        return None
    return bytes.fromhex(text)


def _decode_fixed(text, length):
    """Decode a fixed-length digest without suffix the way Dovecot guesses:
    hex when exactly twice as long, base64 otherwise."""
    if len(text) == 2 * length:
        return _hexdecode(text)
    return _b64decode(text)


def _raw_problem(scheme, raw):
    """Why the decoded hash *raw* is not one of *scheme*, or None."""
    if scheme in RAW_LENGTH:
        if len(raw) != RAW_LENGTH[scheme]:
            return _('a %d-byte digest') % RAW_LENGTH[scheme]
        return None
    if scheme in SALTED:
        if len(raw) <= SALTED[scheme][1]:
            return _('a %d-byte digest followed by a salt') % (
                SALTED[scheme][1])
        return None
    if b'\0' in raw:
        return _('text without NUL characters')
    if scheme in ('PLAIN', 'CLEAR', 'CLEARTEXT'):
        return None
    text = raw.decode('latin-1')
    if scheme == 'MD5':
        # Dovecot's MD5 is MD5-CRYPT, or else a PLAIN-MD5 digest.
        if text.startswith('$1$'):
            return _raw_problem('MD5-CRYPT', raw)
        digest = _decode_fixed(text, 16)
        if digest is None or len(digest) != 16:
            return _('$1$salt$hash or a 16-byte MD5 digest')
        return None
    if scheme == 'CRYPT':
        # Dovecot verifies CRYPT with the system's crypt(): any of its
        # formats.
        for prefix, name in (('$1$', 'MD5-CRYPT'), ('$5$', 'SHA256-CRYPT'),
                             ('$6$', 'SHA512-CRYPT'), ('$2', 'BLF-CRYPT')):
            if text.startswith(prefix):
                return _raw_problem(name, raw)
        if (_fullmatch(_CRYPT_FORMATS['DES-CRYPT'][0], text) or
                _fullmatch(r'_[./0-9A-Za-z]{19}', text) or
                _fullmatch(r'\$[0-9a-z]{1,3}\$[!-#%-~]*\$[!-~]+', text)):
            return None
        return _('a crypt(3) hash')
    if scheme in ('SCRAM-SHA-1', 'SCRAM-SHA-256'):
        size = 20 if scheme == 'SCRAM-SHA-1' else 32
        expected = _('iterations,salt,StoredKey,ServerKey')
        fields = text.split(',')
        if len(fields) != 4 or not _fullmatch(r'[0-9]{1,10}', fields[0]):
            return expected
        if not SCRAM_ROUNDS <= int(fields[0]) <= 2 ** 31 - 1:
            return expected
        salt = _b64decode(fields[1])
        if not salt or any(_b64decode(f) is None or
                           len(_b64decode(f)) != size for f in fields[2:]):
            return expected
        return None
    pattern, expected = _CRYPT_FORMATS[scheme]
    if not _fullmatch(pattern, text):
        return expected
    return None


def check_hash(pwhash):
    """Validate a user-given ``{SCHEME}hash`` (for ``userpassword --hash``)
    and return it with the scheme in canonical spelling.

    The scheme must be known (a suffix is allowed); the hash part must not
    be empty, must decode in the scheme's (or the suffix's) encoding and
    must look like the scheme's output where that is cheap to check.
    Raises VMMError(INVALID_OPTION) with a message that names the scheme
    but never repeats the hash."""
    if not isinstance(pwhash, str):
        raise VMMError(_('The password hash must be given as text.'),
                       errors.INVALID_OPTION)
    close = pwhash.find('}')
    if not pwhash.startswith('{') or close < 0:
        raise VMMError(_('The password hash must begin with its scheme in '
                         'braces, like {SHA512-CRYPT}.'),
                       errors.INVALID_OPTION)
    given, rest = pwhash[1:close], pwhash[close + 1:]
    try:
        scheme, encoding = split_scheme(given)
    except VMMError:
        if _fullmatch(r'[A-Za-z0-9_-]{1,32}(\.[A-Za-z0-9]{0,10})?', given):
            raise
        raise VMMError(_('Unknown password scheme in the password hash.'),
                       errors.INVALID_OPTION) from None
    canonical = scheme if encoding is None else '%s.%s' % (scheme, encoding)

    def bad(problem):
        return VMMError(_('Invalid %(scheme)s password hash: %(problem)s') % {
            'scheme': canonical, 'problem': problem}, errors.INVALID_OPTION)

    if not rest:
        raise bad(_('the hash after the scheme is empty'))
    if has_control(rest):
        raise bad(_('it contains control characters'))
    effective = encoding or DEFAULT_ENCODING.get(scheme)
    if encoding is None and scheme in RAW_LENGTH:
        raw = _decode_fixed(rest, RAW_LENGTH[scheme])
        if raw is None:
            raise bad(_('it is neither hexadecimal nor base64'))
    elif effective == 'HEX':
        raw = _hexdecode(rest)
        if raw is None:
            raise bad(_('it is not hexadecimal'))
    elif effective in ('B64', 'BASE64'):
        raw = _b64decode(rest)
        if raw is None:
            raise bad(_('it is not base64'))
    else:
        raw = rest.encode('utf-8', 'surrogatepass')
    if not raw:
        raise bad(_('the hash after the scheme is empty'))
    problem = _raw_problem(scheme, raw)
    if problem is not None:
        raise bad(_('expected %s') % problem)
    return '{%s}%s' % (canonical, rest)
