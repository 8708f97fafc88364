"""vmm.password: every scheme hashed in-process and verified by the real
``doveadm pw -t`` of Dovecot (vmm(1) DESCRIPTION "Passwords").

These tests need Dovecot's ``doveadm``; without it they fail, never skip.
"""

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmm import errors, password
from vmm.errors import VMMError
from vmm.password import (
    ENCODINGS,
    SCHEMES,
    check_hash,
    check_scheme,
    hash_password,
    list_schemes,
    random_password,
)

DOVEADM = shutil.which('doveadm') or '/usr/bin/doveadm'
USER = 'user@example.org'
PASSWORDS = ('Secret-42', 'Pässwörd-€✓ 日本')
LONG_PASSWORD = 'Ünïcödé-' * 13          # 108 characters, > 72 bytes
WRONG = 'wrong-password'



def _dovecot_schemes():
    """What this Dovecot offers (``doveadm pw -l``): the schemes under
    test, asked of Dovecot and not of vmm.  Without doveadm none, and
    the test below that needs it fails."""
    try:
        out = subprocess.run([DOVEADM, 'pw', '-l'], capture_output=True,
                             text=True, timeout=60).stdout
    except OSError:
        return []
    return sorted(set(out.split()))


DOVECOT_SCHEMES = _dovecot_schemes()
VARIANTS = [scheme + suffix
            for scheme in DOVECOT_SCHEMES
            for suffix in ('',) + ENCODINGS]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def need_doveadm():
    assert os.access(DOVEADM, os.X_OK), (
        'doveadm not found: install Dovecot (dovecot-core) to run these tests')


def doveadm_verifies(pwhash, plaintext, user=None):
    """True if ``doveadm pw -t`` accepts *plaintext* for *pwhash*."""
    need_doveadm()
    args = [DOVEADM, 'pw', '-t', pwhash, '-p', plaintext]
    if user is not None:
        args += ['-u', user]
    result = subprocess.run(args, stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=60)
    return result.returncode == 0


def doveadm_hash(scheme, plaintext, user=USER):
    need_doveadm()
    result = subprocess.run(
        [DOVEADM, 'pw', '-s', scheme, '-p', plaintext, '-u', user],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        check=True)
    return result.stdout.strip()


def body(pwhash):
    """The hash without its {SCHEME} prefix."""
    return pwhash.split('}', 1)[1]


def user_for(variant):
    return USER if variant.startswith('DIGEST-MD5') else None


def shape(pwhash):
    """The hash with every salt/digest character replaced by x."""
    return re.sub(r'[A-Za-z0-9./+]', 'x', pwhash)


# -- every scheme and suffix, verified by Dovecot -----------------------------

def test_doveadm_is_there_and_lists_only_known_schemes():
    need_doveadm()
    out = subprocess.run([DOVEADM, 'pw', '-l'], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    offered = set(out.split())
    assert 'SHA512-CRYPT' in offered
    # vmm covers everything Dovecot 2.3 lists.
    assert offered <= set(SCHEMES), offered - set(SCHEMES)
    assert list_schemes(DOVEADM) == [s for s in SCHEMES if s in offered]
    assert set(DOVECOT_SCHEMES) == offered and len(VARIANTS) > 100


@pytest.mark.parametrize('variant', VARIANTS)
def test_doveadm_accepts_hash(variant):
    for plaintext in PASSWORDS:
        pwhash = hash_password(plaintext, variant, USER)
        assert pwhash.startswith('{%s}' % variant)
        assert check_hash(pwhash) == pwhash
        user = user_for(variant)
        assert doveadm_verifies(pwhash, plaintext, user), (variant, pwhash)
        assert not doveadm_verifies(pwhash, WRONG, user), (variant, pwhash)


@pytest.mark.parametrize('scheme', DOVECOT_SCHEMES)
def test_doveadm_accepts_long_password(scheme):
    pwhash = hash_password(LONG_PASSWORD, scheme, USER)
    assert doveadm_verifies(pwhash, LONG_PASSWORD, user_for(scheme))


@pytest.mark.parametrize('scheme', [s for s in SCHEMES if s != 'PLAIN-TRUNC'])
@pytest.mark.parametrize('suffix', ['', '.HEX', '.B64'])
def test_format_is_that_of_doveadm(scheme, suffix):
    """Unsalted schemes give doveadm's very hash; salted ones its shape
    (same fields, same salt and digest lengths)."""
    plaintext = PASSWORDS[1]
    ours = hash_password(plaintext, scheme + suffix, USER)
    theirs = doveadm_hash(scheme + suffix, plaintext)
    if scheme in password._RAW_LENGTH or scheme in ('PLAIN', 'CLEAR',
                                                    'CLEARTEXT'):
        assert ours == theirs
    else:
        assert shape(ours) == shape(theirs)


def test_plain_trunc_is_written_so_dovecot_verifies_it():
    # doveadm writes the bare password, which its own verifier refuses.
    assert hash_password('Pässwörd', 'PLAIN-TRUNC') == \
        '{PLAIN-TRUNC}10-Pässwörd'


def test_scheme_is_case_insensitive():
    assert hash_password('x-pass', 'sha256.hex').startswith('{SHA256.HEX}')
    assert hash_password('x-pass', ' ssha512 ').startswith('{SSHA512}')


@pytest.mark.parametrize('user, localpart, realm', [
    ('user@example.org', 'user', 'example.org'),
    ('a@b@example.org', 'a@b', 'example.org'),
    ('nodomain', 'nodomain', ''),
])
def test_digest_md5_user_and_realm(user, localpart, realm):
    plaintext = PASSWORDS[1]
    pwhash = hash_password(plaintext, 'DIGEST-MD5', user)
    digest = hashlib.md5(('%s:%s:%s' % (localpart, realm, plaintext))
                         .encode('utf-8')).hexdigest()
    assert pwhash == '{DIGEST-MD5}' + digest
    assert pwhash == doveadm_hash('DIGEST-MD5', plaintext, user)


def test_digest_md5_needs_the_user():
    with pytest.raises(VMMError) as info:
        hash_password('TopSecret-99', 'DIGEST-MD5')
    assert info.value.code == errors.INVALID_OPTION
    assert 'TopSecret' not in str(info.value)


@pytest.mark.parametrize('bad', ['', 'Top\0Secret', 'Top\udcffSecret'])
def test_unusable_password_is_refused_without_showing_it(bad):
    with pytest.raises(VMMError) as info:
        hash_password(bad, 'SHA512-CRYPT')
    assert info.value.code == errors.INVALID_OPTION
    assert 'Secret' not in str(info.value)


def test_md5_compression_matches_hashlib():
    def md5(data):
        length = len(data)
        data += b'\x80' + b'\0' * ((55 - length) % 64)
        data += (8 * length).to_bytes(8, 'little')
        state = password._MD5_INIT
        for i in range(0, len(data), 64):
            state = password._md5_compress(state, data[i:i + 64])
        return b''.join(w.to_bytes(4, 'little') for w in state)
    for length in (0, 1, 55, 56, 63, 64, 65, 200):
        data = bytes(i % 251 for i in range(length))
        assert md5(data) == hashlib.md5(data).digest()


# -- no subprocess, cheap import ----------------------------------------------

def forbid_processes(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('hash_password started a process')
    monkeypatch.setattr(subprocess, 'Popen', refuse)
    for name in ('fork', 'forkpty', 'posix_spawn', 'posix_spawnp', 'system',
                 'execv', 'execve', 'execvp', 'execvpe', 'popen'):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, refuse)


def test_sha512_crypt_starts_no_process(monkeypatch):
    forbid_processes(monkeypatch)
    assert hash_password('x', 'SHA512-CRYPT').startswith('{SHA512-CRYPT}$6$')


@pytest.mark.parametrize('scheme', SCHEMES)
def test_no_scheme_starts_a_process(monkeypatch, scheme):
    forbid_processes(monkeypatch)
    assert hash_password('x-pass', scheme, USER).startswith('{%s}' % scheme)


def test_fresh_interpreter_hashes_sha512_crypt_without_process():
    code = (
        'import os, subprocess\n'
        'def refuse(*a, **k): raise SystemExit("process started")\n'
        'subprocess.Popen = refuse\n'
        'for n in ("fork", "posix_spawn", "posix_spawnp", "system",'
        ' "execv", "execve"):\n'
        '    setattr(os, n, refuse)\n'
        'from vmm.password import hash_password\n'
        'print(hash_password("x", "SHA512-CRYPT"))\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('{SHA512-CRYPT}$6$')


def test_import_is_cheap():
    code = ('import sys, vmm.password\n'
            'heavy = ["passlib", "argon2", "bcrypt", "hashlib", "_hashlib",'
            ' "subprocess", "secrets", "base64", "hmac", "psycopg2"]\n'
            'print(" ".join(m for m in heavy if m in sys.modules))\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ''


# -- costs --------------------------------------------------------------------

@pytest.mark.parametrize('scheme, option, ident', [
    ('SHA512-CRYPT', 'sha512_rounds', '6'),
    ('SHA256-CRYPT', 'sha256_rounds', '5'),
])
def test_sha_crypt_rounds(scheme, option, ident):
    pwhash = hash_password(PASSWORDS[1], scheme, **{option: 10000})
    assert pwhash.startswith('{%s}$%s$rounds=10000$' % (scheme, ident))
    assert doveadm_verifies(pwhash, PASSWORDS[1])
    # 5000 is written without a rounds field, as doveadm does.
    pwhash = hash_password(PASSWORDS[1], scheme, **{option: 5000})
    assert re.match(r'\{%s\}\$%s\$[./0-9A-Za-z]{16}\$' % (scheme, ident),
                    pwhash)
    assert 'rounds=' not in pwhash
    # Clamped to Dovecot's minimum.
    pwhash = hash_password('x', scheme, **{option: 10})
    assert '$rounds=1000$' in pwhash


@pytest.mark.parametrize('scheme', ['BLF-CRYPT', 'CRYPT'])
def test_blowfish_cost(scheme):
    assert hash_password('x', scheme).startswith('{%s}$2y$05$' % scheme)
    pwhash = hash_password(PASSWORDS[1], scheme, blowfish_rounds=7)
    assert pwhash.startswith('{%s}$2y$07$' % scheme)
    assert doveadm_verifies(pwhash, PASSWORDS[1])
    assert hash_password('x', scheme, blowfish_rounds=2).startswith(
        '{%s}$2y$04$' % scheme)


def test_default_costs():
    assert hash_password('x', 'ARGON2I').startswith(
        '{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$')
    assert hash_password('x', 'ARGON2ID').startswith(
        '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$')
    assert re.fullmatch(
        r'\{PBKDF2\}\$1\$[./0-9A-Za-z]{16}\$5000\$[0-9a-f]{40}',
        hash_password('x', 'PBKDF2'))
    assert hash_password('x', 'SCRAM-SHA-256').startswith(
        '{SCRAM-SHA-256}4096,')
    assert re.fullmatch(r'\{OTP\}sha1 1024 [0-9a-f]{16} [0-9a-f]{16}',
                        hash_password('x', 'OTP'))


# -- check_scheme -------------------------------------------------------------

@pytest.mark.parametrize('scheme', DOVECOT_SCHEMES)
def test_check_scheme_canonical(scheme):
    """Every name Dovecot offers, in any case, with any suffix, is
    written as Dovecot writes it."""
    assert check_scheme(scheme) == scheme
    assert check_scheme(scheme.lower()) == scheme
    for suffix in ('.B64', '.BASE64', '.HEX'):
        assert check_scheme(scheme.lower() + suffix.lower()) == \
            scheme + suffix


@pytest.mark.parametrize('text,canonical', [
    ('sha512-crypt', 'SHA512-CRYPT'), ('Blf-Crypt.hex', 'BLF-CRYPT.HEX'),
    ('ssha256.base64', 'SSHA256.BASE64'), ('cram-md5.b64', 'CRAM-MD5.B64'),
    ('plain', 'PLAIN'), ('argon2id', 'ARGON2ID'),
    ('scram-sha-256', 'SCRAM-SHA-256')])
def test_check_scheme_spellings(text, canonical):
    assert check_scheme(text) == canonical


def test_check_scheme_strips_blanks():
    assert check_scheme(' ssha256.Base64\n') == 'SSHA256.BASE64'


@pytest.mark.parametrize('text, named', [
    ('FOO', "'FOO'"), ('LANMAN', "'LANMAN'"), ('NTLM', "'NTLM'"),
    ('RPA', "'RPA'"), ('SKEY', "'SKEY'"), ('SHA-512', "'SHA-512'"),
    ('{SHA512-CRYPT}', "'{SHA512-CRYPT}'"),
    ('SHA256.XYZ', "'.XYZ'"), ('SHA256.', "'.'"),
    ('SHA256.HEX.B64', "'.HEX.B64'"), ('', None), ('   ', None),
])
def test_check_scheme_bad(text, named):
    with pytest.raises(VMMError) as info:
        check_scheme(text)
    assert info.value.code == errors.INVALID_OPTION
    if named:
        assert named in str(info.value)


def test_check_scheme_not_text():
    with pytest.raises(VMMError):
        check_scheme(None)


@given(st.text())
def test_check_scheme_garbage(text):
    try:
        result = check_scheme(text)
    except VMMError as err:
        assert err.code == errors.INVALID_OPTION
    else:
        name, _dot, suffix = result.partition('.')
        assert name in SCHEMES
        assert not suffix or '.' + suffix in ENCODINGS


# -- check_hash ---------------------------------------------------------------

@pytest.mark.parametrize('variant', VARIANTS)
def test_check_hash_accepts_doveadm_output(variant):
    plaintext = 'Pässwörd'
    given = doveadm_hash(variant, plaintext)
    if variant.startswith('PLAIN-TRUNC'):
        # doveadm writes a bare password that Dovecot cannot verify.
        with pytest.raises(VMMError):
            check_hash(given)
        return
    assert check_hash(given) == given
    scheme_part = given[1:given.index('}')]
    lower = '{%s}%s' % (scheme_part.lower(), given[given.index('}') + 1:])
    assert check_hash(lower) == given


@pytest.mark.parametrize('given, plaintext', [
    # CRYPT is verified with crypt(3): any of its formats.
    ('{crypt}' + body(hash_password('pw1', 'SHA512-CRYPT')), 'pw1'),
    ('{CRYPT}' + body(hash_password('pw1', 'MD5-CRYPT')), 'pw1'),
    ('{CRYPT}' + body(hash_password('pw1', 'DES-CRYPT')), 'pw1'),
    ('{MD5}' + body(hash_password('pw1', 'MD5-CRYPT')), 'pw1'),
    # MD5 is MD5-CRYPT or a PLAIN-MD5 digest.
    ('{MD5}' + hashlib.md5(b'pw1').hexdigest(), 'pw1'),
    # Fixed-length digests: hex or base64, as Dovecot guesses.
    ('{SHA}' + hashlib.sha1(b'pw1').hexdigest(), 'pw1'),
    ('{PLAIN-MD5}' + base64.b64encode(hashlib.md5(b'pw1').digest())
     .decode(), 'pw1'),
    ('{SSHA256.hex}' + (hashlib.sha256(b'pw1salt').digest() + b'salt').hex(),
     'pw1'),
    ('{PLAIN.b64}' + base64.b64encode('a:b c€'.encode()).decode(),
     'a:b c€'),
    ('{PLAIN-TRUNC}3-abc', 'abc'),
    ('{BLF-CRYPT}' + body(hash_password('pw1', 'BLF-CRYPT'))
     .replace('$2y$', '$2b$'), 'pw1'),
    ('{OTP}' + body(hash_password('pw1', 'OTP')).upper()
     .replace('SHA1', 'sha1'), 'pw1'),
])
def test_check_hash_good(given, plaintext):
    result = check_hash(given)
    scheme, rest = given[1:].split('}', 1)
    assert result == '{%s}%s' % (check_scheme(scheme), rest)
    assert doveadm_verifies(result, plaintext)


SHA512 = body(hash_password('pw1', 'SHA512-CRYPT'))
BAD_HASHES = [
    'no-braces-at-all', '{SHA512-CRYPT' + SHA512, '{}' + SHA512,
    '{FOO}abcdef', '{SHA256.XYZ}abcdef', '{SHA512-CRYPT}',
    '{SHA512-CRYPT}' + SHA512.replace('$6$', '$5$'),
    '{SHA512-CRYPT}' + SHA512[:-3],
    '{SHA512-CRYPT}' + SHA512 + '\n',
    '{SHA256-CRYPT}' + SHA512,
    '{MD5-CRYPT}$1$saltsalt$tooshort',
    '{BLF-CRYPT}$2y$99$' + 'a' * 53,
    '{BLF-CRYPT}$3y$05$' + 'a' * 53,
    '{DES-CRYPT}abcdefghijkl',
    '{CRYPT}not a crypt hash',
    '{ARGON2I}' + body(hash_password('pw1', 'ARGON2ID')),
    '{ARGON2ID}$argon2id$v=19$m=65536$salt$hash',
    '{PBKDF2}$1$salt$0$' + 'a' * 40,
    '{PBKDF2}$1$salt$5000$' + 'a' * 39,
    '{SCRAM-SHA-1}100,c2FsdA==,' + 'A' * 27 + '=,' + 'A' * 27 + '=',
    '{SCRAM-SHA-256}' + body(hash_password('pw1', 'SCRAM-SHA-1')),
    '{OTP}sha1 x 1234abcd 0123456789abcdef',
    '{OTP}sha2 1024 1234abcd 0123456789abcdef',
    '{SHA256.HEX}abc', '{SHA256.HEX}' + 'zz' * 32, '{SHA256.HEX}' + 'ab' * 31,
    '{SHA256}!!!notbase64!!!',
    '{SHA256}' + base64.b64encode(b'x' * 31).decode(),
    '{SHA256.B64}' + 'ab' * 32,
    '{PLAIN-MD5}' + 'g' * 32,
    '{SSHA}' + base64.b64encode(b'x' * 20).decode(),
    '{SMD5.HEX}' + 'ab' * 16,
    '{PLAIN-TRUNC}secret',
    '{PLAIN}secret\nsecret',
    '{PLAIN.HEX}00',
    '{PLAIN.B64}',
    '{SHA512-CRYPT.HEX}' + SHA512.encode().hex().replace('24', '25', 1),
    '{MD5}' + 'ab' * 15,
]


@pytest.mark.parametrize('given', BAD_HASHES)
def test_check_hash_bad(given):
    with pytest.raises(VMMError) as info:
        check_hash(given)
    assert info.value.code == errors.INVALID_OPTION
    message = str(info.value)
    rest = given.split('}', 1)[-1]
    if len(rest.strip()) >= 6:
        assert rest.strip() not in message


def test_check_hash_names_unknown_scheme_but_not_hash():
    with pytest.raises(VMMError) as info:
        check_hash('{WHIRLPOOL}Sup3rS3cretHash')
    assert "'WHIRLPOOL'" in str(info.value)
    assert 'Sup3r' not in str(info.value)
    with pytest.raises(VMMError) as info:
        check_hash('{my password is hunter2}x')
    assert 'hunter2' not in str(info.value)


def test_check_hash_not_text():
    with pytest.raises(VMMError):
        check_hash(None)


SCHEME_TEXT = st.builds(
    lambda s, lower, suffix: (s.lower() if lower else s) + suffix,
    st.sampled_from(SCHEMES), st.booleans(),
    st.sampled_from(('',) + ENCODINGS + ('.hex', '.XX')))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.text(),
    st.builds(lambda s, r: '{%s}%s' % (s, r), SCHEME_TEXT, st.text()),
    st.builds(lambda s, r: '{%s}%s' % (s, base64.b64encode(r).decode()),
              SCHEME_TEXT, st.binary()),
    st.builds(lambda s, r: '{%s}%s' % (s, r.hex()), SCHEME_TEXT,
              st.binary()),
    st.builds(lambda s, r: '{%s}$%s' % (s, r), SCHEME_TEXT,
              st.text(alphabet='$./0123456789abcxyzABCXYZ=,')),
))
def test_check_hash_garbage(text):
    try:
        result = check_hash(text)
    except VMMError as err:
        assert err.code == errors.INVALID_OPTION
    else:
        assert result.startswith('{')
        assert check_hash(result) == result


FAST_SCHEMES = [s for s in SCHEMES if not s.startswith('ARGON2')]


@settings(max_examples=100, deadline=None)
@given(st.text(), st.sampled_from(FAST_SCHEMES),
       st.sampled_from(('',) + ENCODINGS))
def test_hash_password_any_text(plaintext, scheme, suffix):
    try:
        pwhash = hash_password(plaintext, scheme + suffix, USER)
    except VMMError as err:
        assert err.code == errors.INVALID_OPTION
        # C0, DEL and C1 controls, surrogates, U+2028 and U+2029.
        assert (not plaintext or
                any(ord(c) < 32 or 127 <= ord(c) < 160 or
                    0xd800 <= ord(c) <= 0xdfff or c in '\u2028\u2029'
                    for c in plaintext))
    else:
        assert check_hash(pwhash) == pwhash


# -- list_schemes -------------------------------------------------------------

def test_list_schemes_without_doveadm(tmp_path):
    assert list_schemes(str(tmp_path / 'no-such-doveadm')) == list(SCHEMES)
    not_executable = tmp_path / 'doveadm'
    not_executable.write_text('#!/bin/sh\necho SHA\n')
    assert list_schemes(str(not_executable)) == list(SCHEMES)


def fake_doveadm(tmp_path, body):
    path = tmp_path / 'doveadm'
    path.write_text('#!/bin/sh\n' + body + '\n')
    path.chmod(0o755)
    return str(path)


def test_list_schemes_intersects(tmp_path):
    doveadm = fake_doveadm(tmp_path, 'echo "PLAIN SHA512-CRYPT FOO ssha "')
    assert list_schemes(doveadm) == ['SHA512-CRYPT', 'SSHA', 'PLAIN']


@pytest.mark.parametrize('body', ['exit 1', 'exit 0', 'echo SHA; exit 2'])
def test_list_schemes_broken_doveadm(tmp_path, body):
    assert list_schemes(fake_doveadm(tmp_path, body)) == list(SCHEMES)


# -- random_password ----------------------------------------------------------

LOOKALIKES = set('0Oo1lIj')


@pytest.mark.parametrize('length', [8, 9, 16, 64, 1024])
def test_random_password(length):
    pw = random_password(length)
    assert isinstance(pw, str) and len(pw) == length
    assert set(pw) <= set(password._PASSWORD_CHARS)
    assert not set(pw) & LOOKALIKES
    assert any(c.isdigit() for c in pw)
    assert any(c.islower() for c in pw)
    assert any(c.isupper() for c in pw)


def test_random_passwords_differ_and_use_the_whole_alphabet():
    passwords = [random_password(40) for _i in range(200)]
    assert len(set(passwords)) == 200
    assert set(''.join(passwords)) == set(password._PASSWORD_CHARS)
    assert not set(password._PASSWORD_CHARS) & LOOKALIKES
    assert len(password._PASSWORD_CHARS) == len(set(password._PASSWORD_CHARS))


@pytest.mark.parametrize('length', [7, 0, -1])
def test_random_password_too_short(length):
    with pytest.raises(ValueError):
        random_password(length)
