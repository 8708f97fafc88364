"""Every scheme listpwschemes offers, set through vmm, stored in the
database and read back through dovecotpassword(), is accepted by Dovecot's
own ``doveadm pw -t``."""

import subprocess

import pytest

from vmm.password import ENCODINGS, list_schemes

PASSWORD = 'Grüße-пароль-1'
SCHEMES = list_schemes()


@pytest.fixture(scope='module')
def listed():
    """What `vmm listpwschemes` prints, one name per line."""
    proc = subprocess.run(['vmm', 'listpwschemes'], capture_output=True,
                          text=True, check=True,
                          env={'PATH': __import__('os').path.dirname(
                              __import__('sys').executable) + ':/usr/bin'})
    return [line.strip() for line in proc.stdout.splitlines()
            if line.startswith('\t')]


def test_listpwschemes_prints_schemes_and_suffixes(listed):
    assert 'SHA512-CRYPT' in listed and 'ARGON2ID' in listed
    assert set(ENCODINGS) <= set(listed)


@pytest.mark.parametrize('suffix', ('',) + ENCODINGS)
def test_each_scheme_through_vmm_and_doveadm(vmm, db, suffix):
    assert vmm('da', 'example.org').code == 0
    assert vmm('ua', 'jane@example.org', '-p', 'initial').code == 0
    for scheme in SCHEMES:
        result = vmm('up', 'jane@example.org', '-p', PASSWORD, '-s',
                     scheme + suffix)
        assert result.code == 0, (scheme, result.err)
        stored = db.lookup('dovecotpassword', 'jane', 'example.org')[0][1]
        assert stored.startswith('{%s%s}' % (scheme, suffix)), stored
        for password, accepted in ((PASSWORD, True), ('wrong', False)):
            proc = subprocess.run(
                ['doveadm', 'pw', '-t', stored, '-p', password, '-u',
                 'jane@example.org'], capture_output=True, text=True)
            assert (proc.returncode == 0) == accepted, \
                (scheme + suffix, password, proc.stderr)


def test_hash_option_and_unknown_scheme(vmm, db, snapshot):
    assert vmm('da', 'example.org').code == 0
    assert vmm('ua', 'jane@example.org', '-p', 'initial').code == 0
    result = vmm('up', 'jane@example.org', '--hash', '{PLAIN}given')
    assert result.code == 0, result.err
    assert db.lookup('dovecotpassword', 'jane', 'example.org')[0][1] == \
        '{PLAIN}given'
    before = snapshot()
    for args in (('-s', 'ROT13', '-p', 'x'), ('--hash', '{ROT13}abc'),
                 ('--hash', '{SHA512-CRYPT}not-a-crypt-hash'),
                 ('--hash', 'no-scheme')):
        result = vmm('up', 'jane@example.org', *args)
        assert result.code == 44, (args, result.err)
        assert result.err.count('\n') == 1
        assert 'not-a-crypt-hash' not in result.err
    assert snapshot() == before
