"""The scheme names vmm knows, Dovecot's encodings and costs of each, and
how a ``SCHEME[.SUFFIX]`` given by a user is read."""


from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _

ENCODINGS = ('.B64', '.BASE64', '.HEX')

SCHEMES = (
    'SHA512-CRYPT', 'SHA256-CRYPT', 'MD5-CRYPT', 'BLF-CRYPT', 'DES-CRYPT',
    'CRYPT', 'ARGON2I', 'ARGON2ID', 'PBKDF2', 'SCRAM-SHA-1', 'SCRAM-SHA-256',
    'SSHA512', 'SSHA256', 'SSHA', 'SMD5', 'SHA512', 'SHA256', 'SHA', 'SHA1',
    'MD5', 'PLAIN-MD5', 'LDAP-MD5', 'PLAIN-MD4', 'CRAM-MD5', 'HMAC-MD5',
    'DIGEST-MD5', 'OTP', 'PLAIN', 'CLEAR', 'CLEARTEXT', 'PLAIN-TRUNC',
)

# Dovecot's default encoding of each scheme (password-scheme.c): 'B64',
# 'HEX', or None for schemes whose result is text.
DEFAULT_ENCODING = {
    'SSHA512': 'B64', 'SSHA256': 'B64', 'SSHA': 'B64', 'SMD5': 'B64',
    'SHA512': 'B64', 'SHA256': 'B64', 'SHA': 'B64', 'SHA1': 'B64',
    'LDAP-MD5': 'B64',
    'PLAIN-MD5': 'HEX', 'PLAIN-MD4': 'HEX', 'CRAM-MD5': 'HEX',
    'HMAC-MD5': 'HEX', 'DIGEST-MD5': 'HEX',
}

# Schemes with a fixed raw length: without a suffix Dovecot guesses hex when
# the hash is exactly twice as long, base64 otherwise.
RAW_LENGTH = {
    'SHA512': 64, 'SHA256': 32, 'SHA': 20, 'SHA1': 20, 'LDAP-MD5': 16,
    'PLAIN-MD5': 16, 'PLAIN-MD4': 16, 'CRAM-MD5': 32, 'HMAC-MD5': 32,
    'DIGEST-MD5': 16,
}

# Salted digests: raw = digest + salt; digest length per scheme.
SALTED = {'SSHA512': ('sha512', 64), 'SSHA256': ('sha256', 32),
           'SSHA': ('sha1', 20), 'SMD5': ('md5', 16)}
SALTED_SALT_LEN = 4          # as Dovecot's ssha*_generate()/smd5_generate()

# Cost defaults, those of Dovecot 2.3 / libsodium where Dovecot has one.
ARGON2I_COST = {'time_cost': 4, 'memory_cost': 32768, 'parallelism': 1}
ARGON2ID_COST = {'time_cost': 3, 'memory_cost': 65536, 'parallelism': 1}
PBKDF2_ROUNDS = 5000
SCRAM_ROUNDS = 4096
OTP_SEQUENCE = 1024

# Dovecot clamps the crypt rounds to these ranges (password-scheme-crypt.c).
BLF_ROUNDS = (4, 31)
SHA2_ROUNDS = (1000, 999999999)

SALT_CHARS = ('./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
               'abcdefghijklmnopqrstuvwxyz')


# -- scheme names ----------------------------------------------------------

def _shown(text, limit=40):
    """*text* quoted for an error message, control characters escaped."""
    if len(text) > limit:
        text = text[:limit] + '...'
    return repr(text)


def split_scheme(text):
    """(canonical scheme, canonical encoding or None) of SCHEME[.SUFFIX]."""
    if not isinstance(text, str):
        raise VMMError(_('The password scheme must be given as text.'),
                       errors.INVALID_OPTION)
    text = text.strip()
    if not text:
        raise VMMError(_('No password scheme given.'), errors.INVALID_OPTION)
    name, dot, suffix = text.partition('.')
    scheme = name.upper()
    if scheme not in SCHEMES:
        raise VMMError(
            _("Unknown password scheme: %(scheme)s (known schemes: "
              "%(known)s)") % {'scheme': _shown(name),
                               'known': ', '.join(SCHEMES)},
            errors.INVALID_OPTION)
    if not dot:
        return scheme, None
    encoding = suffix.upper()
    if '.' + encoding not in ENCODINGS:
        raise VMMError(
            _("Unknown encoding suffix %(suffix)s of password scheme "
              "%(scheme)s (known suffixes: %(known)s)") % {
                  'suffix': _shown('.' + suffix), 'scheme': scheme,
                  'known': ', '.join(ENCODINGS)},
            errors.INVALID_OPTION)
    return scheme, encoding


def check_scheme(text):
    """Return ``SCHEME`` or ``SCHEME.SUFFIX`` in canonical (upper case)
    spelling; raise VMMError(INVALID_OPTION) naming an unknown scheme or
    suffix.  Input is case-insensitive; surrounding blanks are ignored."""
    scheme, encoding = split_scheme(text)
    return scheme if encoding is None else '%s.%s' % (scheme, encoding)
