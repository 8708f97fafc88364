"""Hashing a password in exactly the format ``doveadm pw`` writes, in this
process: no scheme starts a program."""

import os

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.password.schemes import (
    ARGON2I_COST,
    ARGON2ID_COST,
    BLF_ROUNDS,
    DEFAULT_ENCODING,
    OTP_SEQUENCE,
    PBKDF2_ROUNDS,
    SALT_CHARS,
    SALTED,
    SALTED_SALT_LEN,
    SCRAM_ROUNDS,
    SHA2_ROUNDS,
    split_scheme,
)
from vmm.text import has_control


def _clamp(value, bounds):
    import operator
    value = operator.index(value)
    return min(max(value, bounds[0]), bounds[1])


def _salt(length):
    # 64 characters: each random byte's low six bits pick one uniformly
    # (os.urandom is what secrets uses, without importing random & co.).
    return ''.join(SALT_CHARS[byte & 63] for byte in os.urandom(length))


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
        cost, salt = _clamp(opts[rounds], SHA2_ROUNDS), _salt(16)
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
    cost = _clamp(opts['blowfish_rounds'], BLF_ROUNDS)
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
    digest, _length = SALTED[opts['scheme']]
    salt = secrets.token_bytes(SALTED_SALT_LEN)
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
    scheme_name, encoding = split_scheme(scheme)
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
        text = _encode(raw, DEFAULT_ENCODING.get(scheme_name))
        return '{%s}%s' % (scheme_name, text)
    return '{%s.%s}%s' % (scheme_name, encoding, _encode(raw, encoding))
