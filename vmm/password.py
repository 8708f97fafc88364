"""Password hashing for Dovecot (vmm(1) DESCRIPTION "Passwords").

vmm stores every password as ``{SCHEME}hash`` (or ``{SCHEME.ENC}hash``),
exactly as ``doveadm pw -s SCHEME`` of Dovecot 2.3 writes it, so that
Dovecot's passdb verifies it at login.  All hashing is done in this process
(passlib from libpass, hashlib, hmac, argon2-cffi, bcrypt); no scheme starts
``doveadm`` or any other program.

Schemes, their default encoding (``-``: the result is text, not encoded)
and what the hash looks like:

    SHA512-CRYPT      -    ``$6$<16 salt>$…`` (``$6$rounds=N$…`` if N≠5000)
    SHA256-CRYPT      -    ``$5$<16 salt>$…`` (``$5$rounds=N$…`` if N≠5000)
    MD5-CRYPT, MD5    -    ``$1$<8 salt>$…``
    BLF-CRYPT, CRYPT  -    ``$2y$NN$…`` (bcrypt; also Dovecot 2.3's CRYPT)
    DES-CRYPT         -    13 characters, traditional DES crypt
    ARGON2I           -    ``$argon2i$v=19$m=32768,t=4,p=1$salt$hash``
    ARGON2ID          -    ``$argon2id$v=19$m=65536,t=3,p=1$salt$hash``
    PBKDF2            -    ``$1$<16 salt>$5000$<40 hex>`` (PBKDF2-HMAC-SHA1)
    SCRAM-SHA-1       -    ``4096,salt,StoredKey,ServerKey`` (base64 fields)
    SCRAM-SHA-256     -    the same with SHA-256
    OTP               -    ``sha1 1024 <16 hex seed> <16 hex>`` (RFC 2289)
    SSHA512, SSHA256,
      SSHA, SMD5      b64  digest(password + salt) + 4-byte salt
    SHA512, SHA256,
      SHA, SHA1,
      LDAP-MD5        b64  the digest
    PLAIN-MD5         hex  MD5 digest
    PLAIN-MD4         hex  MD4 digest
    CRAM-MD5,
      HMAC-MD5        hex  the 32-byte HMAC-MD5 context (outer, then inner
                           MD5 state after the padded key)
    DIGEST-MD5        hex  MD5 of ``localpart:domain:password``
    PLAIN, CLEAR,
      CLEARTEXT       -    the password itself
    PLAIN-TRUNC       -    ``<length>-<password>`` (see below)

Encoding suffixes: Dovecot accepts ``.B64``/``.BASE64``/``.HEX`` after *any*
scheme name (``password_scheme_lookup()``); the suffix encodes the bytes the
scheme produces instead of its default encoding (a text scheme's hash is
then the base64 or hex form of that text).  That only changes anything
useful for the binary digests above and for PLAIN (``{PLAIN.B64}`` stores a
password with characters awkward in passdb files), but every combination
is accepted by ``doveadm pw -t`` of Dovecot 2.3, so vmm allows all of them.

PLAIN-TRUNC: ``doveadm pw -s PLAIN-TRUNC`` writes the bare password, which
its own verifier then refuses ("PLAIN-TRUNC missing length: prefix"); vmm
writes the ``<length>-<password>`` form that Dovecot verifies instead
(length in bytes of the UTF-8 password, i.e. nothing truncated).

The module imports only vmm's own light modules at import time; everything
heavy is imported inside the functions that need it.
"""

import os

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.text import has_control

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
_DEFAULT_ENCODING = {
    'SSHA512': 'B64', 'SSHA256': 'B64', 'SSHA': 'B64', 'SMD5': 'B64',
    'SHA512': 'B64', 'SHA256': 'B64', 'SHA': 'B64', 'SHA1': 'B64',
    'LDAP-MD5': 'B64',
    'PLAIN-MD5': 'HEX', 'PLAIN-MD4': 'HEX', 'CRAM-MD5': 'HEX',
    'HMAC-MD5': 'HEX', 'DIGEST-MD5': 'HEX',
}

# Schemes with a fixed raw length: without a suffix Dovecot guesses hex when
# the hash is exactly twice as long, base64 otherwise.
_RAW_LENGTH = {
    'SHA512': 64, 'SHA256': 32, 'SHA': 20, 'SHA1': 20, 'LDAP-MD5': 16,
    'PLAIN-MD5': 16, 'PLAIN-MD4': 16, 'CRAM-MD5': 32, 'HMAC-MD5': 32,
    'DIGEST-MD5': 16,
}

# Salted digests: raw = digest + salt; digest length per scheme.
_SALTED = {'SSHA512': ('sha512', 64), 'SSHA256': ('sha256', 32),
           'SSHA': ('sha1', 20), 'SMD5': ('md5', 16)}
_SALTED_SALT_LEN = 4          # as Dovecot's ssha*_generate()/smd5_generate()

# Cost defaults, those of Dovecot 2.3 / libsodium where Dovecot has one.
ARGON2I_COST = {'time_cost': 4, 'memory_cost': 32768, 'parallelism': 1}
ARGON2ID_COST = {'time_cost': 3, 'memory_cost': 65536, 'parallelism': 1}
PBKDF2_ROUNDS = 5000
SCRAM_ROUNDS = 4096
OTP_SEQUENCE = 1024

# Dovecot clamps the crypt rounds to these ranges (password-scheme-crypt.c).
_BLF_ROUNDS = (4, 31)
_SHA2_ROUNDS = (1000, 999999999)

# Characters of random passwords: letters and digits without look-alikes
# (0 O o, 1 l I, j) -- the set vmm has always used, without punctuation.
_PASSWORD_CHARS = ('23456789'
                   'abcdefghikmnpqrstuvwxyz'
                   'ABCDEFGHJKLMNPQRSTUVWXYZ')

_SALT_CHARS = ('./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
               'abcdefghijklmnopqrstuvwxyz')


# -- scheme names ----------------------------------------------------------

def _shown(text, limit=40):
    """*text* quoted for an error message, control characters escaped."""
    if len(text) > limit:
        text = text[:limit] + '...'
    return repr(text)


def _split(text):
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
    scheme, encoding = _split(text)
    return scheme if encoding is None else '%s.%s' % (scheme, encoding)


# -- hashing ---------------------------------------------------------------

def _clamp(value, bounds):
    import operator
    value = operator.index(value)
    return min(max(value, bounds[0]), bounds[1])


def _salt(length):
    # 64 characters: each random byte's low six bits pick one uniformly
    # (os.urandom is what secrets uses, without importing random & co.).
    return ''.join(_SALT_CHARS[byte & 63] for byte in os.urandom(length))


_libcrypt = []


def _system_crypt(pw, setting):
    """crypt(3) of the C library (libxcrypt), or None where it is missing
    or refuses the setting.  It is what Dovecot itself verifies with, and
    loading it costs a fraction of importing passlib, which matters for
    one-shot commands: these are the default schemes."""
    if not _libcrypt:
        _libcrypt.append(_load_system_crypt())
    if _libcrypt[0] is None:
        return None
    result = _libcrypt[0](pw, setting.encode('ascii'))
    if not result or result.startswith(b'*'):
        return None
    return result


def _load_system_crypt():
    """crypt(3) as bytes → bytes: Python's own binding while it has one
    (up to 3.12), else libcrypt through ctypes; None without either."""
    try:
        import _crypt
        return lambda pw, setting: _crypt.crypt(
            pw.decode('utf-8'), setting.decode('ascii')).encode('utf-8')
    except ImportError:
        pass
    import ctypes
    try:
        library = ctypes.CDLL('libcrypt.so.1')
    except OSError:
        return None
    library.crypt.restype = ctypes.c_char_p
    library.crypt.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    return library.crypt


def _sha2_crypt(handler_name, rounds):
    ident = {'sha512_crypt': '$6$', 'sha256_crypt': '$5$'}[handler_name]

    def generate(pw, opts):
        cost, salt = _clamp(opts[rounds], _SHA2_ROUNDS), _salt(16)
        setting = ident + ('' if cost == 5000 else 'rounds=%d$' % cost) + salt
        result = _system_crypt(pw, setting)
        if result is not None:
            return result
        from passlib import hash as passlib_hash
        handler = getattr(passlib_hash, handler_name)
        return handler.using(rounds=cost, salt=salt).hash(pw).encode('ascii')
    return generate


def _md5_crypt(pw, opts):
    salt = _salt(8)
    result = _system_crypt(pw, '$1$' + salt)
    if result is not None:
        return result
    from passlib.hash import md5_crypt
    return md5_crypt.using(salt=salt).hash(pw).encode('ascii')


def _des_crypt(pw, opts):
    from passlib.hash import des_crypt
    return des_crypt.using(salt=_salt(2)).hash(pw).encode('ascii')


def _blf_crypt(pw, opts):
    import bcrypt
    cost = _clamp(opts['blowfish_rounds'], _BLF_ROUNDS)
    # bcrypt uses 72 bytes at most; Dovecot's crypt_blowfish silently
    # ignores the rest, the bcrypt package refuses longer input.
    hashed = bcrypt.hashpw(pw[:72], bcrypt.gensalt(cost, prefix=b'2b'))
    return b'$2y$' + hashed[4:]           # Dovecot writes the $2y$ ident


def _argon2(type_name, cost):
    def generate(pw, opts):
        import secrets

        from argon2 import low_level
        return low_level.hash_secret(
            pw, secrets.token_bytes(16), hash_len=32,
            type=getattr(low_level.Type, type_name), version=19, **cost)
    return generate


def _pbkdf2(pw, opts):
    import hashlib
    salt = _salt(16)
    key = hashlib.pbkdf2_hmac('sha1', pw, salt.encode('ascii'),
                              PBKDF2_ROUNDS, 20)
    return ('$1$%s$%d$%s' % (salt, PBKDF2_ROUNDS, key.hex())).encode('ascii')


def _scram(digest):
    def generate(pw, opts):
        import base64
        import hashlib
        import hmac
        import secrets
        salt = secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac(digest, pw, salt, SCRAM_ROUNDS)
        client_key = hmac.new(salted, b'Client Key', digest).digest()
        stored_key = hashlib.new(digest, client_key).digest()
        server_key = hmac.new(salted, b'Server Key', digest).digest()
        fields = [b'%d' % SCRAM_ROUNDS] + [
            base64.b64encode(x) for x in (salt, stored_key, server_key)]
        return b','.join(fields)
    return generate


def _salted(pw, opts):
    import hashlib
    import secrets
    digest, _length = _SALTED[opts['scheme']]
    salt = secrets.token_bytes(_SALTED_SALT_LEN)
    return hashlib.new(digest, pw + salt).digest() + salt


def _digest(name):
    def generate(pw, opts):
        import hashlib
        return hashlib.new(name, pw).digest()
    return generate


def _md4(pw, opts):
    # OpenSSL 3 may lack MD4; passlib falls back to its own implementation.
    from passlib.crypto.digest import lookup_hash
    return lookup_hash('md4').const(pw).digest()


_MD5_SHIFTS = ((7, 12, 17, 22) * 4 + (5, 9, 14, 20) * 4 +
               (4, 11, 16, 23) * 4 + (6, 10, 15, 21) * 4)
_MD5_INIT = (0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476)
_md5_table = []


def _md5_compress(state, block):
    """One MD5 compression of a 64-byte *block* into *state* (4 words);
    hashlib does not expose MD5's inner state, which CRAM-MD5 stores."""
    if not _md5_table:
        import math
        _md5_table.extend(int(abs(math.sin(i + 1)) * 2 ** 32) & 0xffffffff
                          for i in range(64))
    mask = 0xffffffff
    words = [int.from_bytes(block[i:i + 4], 'little')
             for i in range(0, 64, 4)]
    a, b, c, d = state
    for i in range(64):
        if i < 16:
            f, g = (b & c) | (~b & d), i
        elif i < 32:
            f, g = (d & b) | (~d & c), (5 * i + 1) % 16
        elif i < 48:
            f, g = b ^ c ^ d, (3 * i + 5) % 16
        else:
            f, g = c ^ (b | (~d & mask)), (7 * i) % 16
        f = (f + a + _md5_table[i] + words[g]) & mask
        shift = _MD5_SHIFTS[i]
        a, d, c = d, c, b
        b = (b + (((f << shift) | (f >> (32 - shift))) & mask)) & mask
    return tuple((x + y) & mask for x, y in zip(state, (a, b, c, d)))


def _cram_md5(pw, opts):
    import hashlib
    key = pw if len(pw) <= 64 else hashlib.md5(pw).digest()
    key = key.ljust(64, b'\0')
    inner = _md5_compress(_MD5_INIT, bytes(k ^ 0x36 for k in key))
    outer = _md5_compress(_MD5_INIT, bytes(k ^ 0x5c for k in key))
    return b''.join(w.to_bytes(4, 'little') for w in outer + inner)


def _digest_md5(pw, opts):
    import hashlib
    user = opts['user']
    if not user:
        raise VMMError(_('The DIGEST-MD5 password scheme needs the '
                         "account's address."), errors.INVALID_OPTION)
    localpart, _at, realm = user.rpartition('@')
    if not _at:
        localpart, realm = user, ''
    prefix = ('%s:%s:' % (localpart, realm)).encode('utf-8')
    return hashlib.md5(prefix + pw).digest()


def _otp_fold(digest):
    """RFC 2289 folding of a SHA-1 digest to 64 bits as Dovecot's lib-otp
    does it (words 0^2^4 and 1^3, each written byte-reversed)."""
    w = [digest[i:i + 4] for i in range(0, 20, 4)]
    first = bytes(x ^ y ^ z for x, y, z in zip(w[0], w[2], w[4]))
    second = bytes(x ^ y for x, y in zip(w[1], w[3]))
    return first[::-1] + second[::-1]


def _otp(pw, opts):
    import hashlib
    import secrets
    seed = secrets.token_hex(8)
    result = _otp_fold(hashlib.sha1(seed.encode('ascii') + pw).digest())
    for _i in range(OTP_SEQUENCE):
        result = _otp_fold(hashlib.sha1(result).digest())
    return ('sha1 %d %s %s' % (OTP_SEQUENCE, seed, result.hex())).encode(
        'ascii')


def _plain(pw, opts):
    return pw


def _plain_trunc(pw, opts):
    return b'%d-%s' % (len(pw), pw)


_GENERATORS = {
    'SHA512-CRYPT': _sha2_crypt('sha512_crypt', 'sha512_rounds'),
    'SHA256-CRYPT': _sha2_crypt('sha256_crypt', 'sha256_rounds'),
    'MD5-CRYPT': _md5_crypt,
    'MD5': _md5_crypt,
    'BLF-CRYPT': _blf_crypt,
    'CRYPT': _blf_crypt,
    'DES-CRYPT': _des_crypt,
    'ARGON2I': _argon2('I', ARGON2I_COST),
    'ARGON2ID': _argon2('ID', ARGON2ID_COST),
    'PBKDF2': _pbkdf2,
    'SCRAM-SHA-1': _scram('sha1'),
    'SCRAM-SHA-256': _scram('sha256'),
    'SSHA512': _salted, 'SSHA256': _salted, 'SSHA': _salted, 'SMD5': _salted,
    'SHA512': _digest('sha512'), 'SHA256': _digest('sha256'),
    'SHA': _digest('sha1'), 'SHA1': _digest('sha1'),
    'PLAIN-MD5': _digest('md5'), 'LDAP-MD5': _digest('md5'),
    'PLAIN-MD4': _md4,
    'CRAM-MD5': _cram_md5, 'HMAC-MD5': _cram_md5,
    'DIGEST-MD5': _digest_md5,
    'OTP': _otp,
    'PLAIN': _plain, 'CLEAR': _plain, 'CLEARTEXT': _plain,
    'PLAIN-TRUNC': _plain_trunc,
}


def _encode(raw, encoding):
    if encoding == 'HEX':
        return raw.hex()
    if encoding in ('B64', 'BASE64'):
        import base64
        return base64.b64encode(raw).decode('ascii')
    return raw.decode('utf-8')


def hash_password(password, scheme, user='', *, blowfish_rounds=5,
                  sha256_rounds=5000, sha512_rounds=5000):
    """Hash *password* (str) with *scheme* (``SCHEME`` or ``SCHEME.SUFFIX``,
    any case) and return ``{SCHEME[.SUFFIX]}hash`` as ``doveadm pw`` writes
    it.

    *user* is the account's full address; DIGEST-MD5 needs it (the hash is
    MD5 of ``localpart:domain:password``, split at the last ``@`` as
    Dovecot does).  The password is encoded as UTF-8.

    Costs: *blowfish_rounds* is the bcrypt cost of BLF-CRYPT and CRYPT
    (Dovecot 2.3's CRYPT writes bcrypt), *sha256_rounds*/*sha512_rounds*
    those of SHA256-CRYPT/SHA512-CRYPT; like Dovecot, vmm clamps them to
    4..31 and 1000..999999999, and writes no ``rounds=`` field at 5000.
    The other costs are Dovecot 2.3's defaults: ARGON2I t=4, m=32 MiB, p=1;
    ARGON2ID t=3, m=64 MiB, p=1 (libsodium "interactive" limits as Dovecot
    uses them); PBKDF2 5000 rounds of HMAC-SHA1 with a 16-character salt;
    SCRAM-SHA-* 4096 iterations, 16-byte salt; OTP SHA-1, sequence 1024;
    SSHA*/SMD5 a 4-byte salt; the crypt schemes Dovecot's salt lengths.

    Everything is hashed in-process; no scheme starts a program.

    Raises VMMError(INVALID_OPTION) for an unknown scheme or suffix, an
    empty password, a password with control characters (no login could
    type them, and a stored PLAIN hash must not hold them) or DIGEST-MD5
    without *user*.  No message contains the
    password.
    """
    scheme_name, encoding = _split(scheme)
    if not isinstance(password, str):
        raise TypeError('password must be str')
    if not password:
        raise VMMError(_('The password must not be empty.'),
                       errors.INVALID_OPTION)
    try:
        pw = password.encode('utf-8')
    except UnicodeEncodeError:
        raise VMMError(_('The password is not valid Unicode text.'),
                       errors.INVALID_OPTION) from None
    if has_control(password):
        raise VMMError(_('The password must not contain control characters '
                         '(a pasted line end, say).'), errors.INVALID_OPTION)
    opts = {'scheme': scheme_name, 'user': user,
            'blowfish_rounds': blowfish_rounds,
            'sha256_rounds': sha256_rounds, 'sha512_rounds': sha512_rounds}
    raw = _GENERATORS[scheme_name](pw, opts)
    if encoding is None:
        text = _encode(raw, _DEFAULT_ENCODING.get(scheme_name))
        return '{%s}%s' % (scheme_name, text)
    return '{%s.%s}%s' % (scheme_name, encoding, _encode(raw, encoding))


# -- checking given hashes -------------------------------------------------

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
    if scheme in _RAW_LENGTH:
        if len(raw) != _RAW_LENGTH[scheme]:
            return _('a %d-byte digest') % _RAW_LENGTH[scheme]
        return None
    if scheme in _SALTED:
        if len(raw) <= _SALTED[scheme][1]:
            return _('a %d-byte digest followed by a salt') % (
                _SALTED[scheme][1])
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
        scheme, encoding = _split(given)
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
    effective = encoding or _DEFAULT_ENCODING.get(scheme)
    if encoding is None and scheme in _RAW_LENGTH:
        raw = _decode_fixed(rest, _RAW_LENGTH[scheme])
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


# -- listing and random passwords -------------------------------------------

def list_schemes(doveadm='/usr/bin/doveadm'):
    """The schemes vmm can write, in the order of SCHEMES: those that
    ``doveadm pw -l`` lists when *doveadm* exists and answers, all of
    SCHEMES otherwise.  Every scheme takes every suffix of ENCODINGS."""
    import subprocess
    try:
        result = subprocess.run(
            [doveadm, 'pw', '-l'], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30,
            check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return list(SCHEMES)
    if result.returncode != 0:
        return list(SCHEMES)
    offered = {name.upper() for name in
               result.stdout.decode('utf-8', 'replace').split()}
    if not offered:
        return list(SCHEMES)
    return [scheme for scheme in SCHEMES if scheme in offered]


def random_password(length):
    """A random password of *length* (at least 8) characters from
    ``secrets``: letters and digits without look-alikes (no 0 O o 1 l I j),
    with at least one digit, one lower and one upper case letter."""
    import operator
    import secrets
    length = operator.index(length)
    if length < 8:
        raise ValueError('a random password needs at least 8 characters')
    while True:
        password = ''.join(secrets.choice(_PASSWORD_CHARS)
                           for _i in range(length))
        if (any(c.isdigit() for c in password) and
                any(c.islower() for c in password) and
                any(c.isupper() for c in password)):
            return password
