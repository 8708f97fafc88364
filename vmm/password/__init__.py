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

The package imports only vmm's own light modules at import time; everything
heavy is imported inside the functions that need it.
"""

from vmm.password.hashing import hash_password
from vmm.password.schemes import ENCODINGS, SCHEMES, check_scheme
from vmm.password.stored import check_hash

__all__ = ('ENCODINGS', 'SCHEMES', 'check_hash', 'check_scheme',
           'hash_password', 'list_schemes', 'random_password')

# Characters of random passwords: letters and digits without look-alikes
# (0 O o, 1 l I, j) -- the set vmm has always used, without punctuation.
_PASSWORD_CHARS = ('23456789'
                   'abcdefghikmnpqrstuvwxyz'
                   'ABCDEFGHJKLMNPQRSTUVWXYZ')


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
