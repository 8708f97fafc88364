"""Shell completion: the candidates, and the bash and zsh functions that
ask for them."""

import os
import shutil
import subprocess
import sys

import pytest

from vmm.completion import candidates

COMPLETION = os.path.join(os.path.dirname(__file__), '..', 'vmm',
                          'completion')


@pytest.fixture
def data(vmm, db, config_file, monkeypatch):
    for args in (('da', 'example.org'), ('ada', 'example.net', 'example.org'),
                 ('da', 'other.test'), ('ua', 'jane@example.org', '-p', 'x'),
                 ('aa', 'info@example.org', 'jane@example.org'),
                 ('rla', 'relay.example')):
        assert vmm(*args).code == 0
    monkeypatch.setenv('VMM_CONFIG', config_file)
    return db


def test_subcommands_long_and_short():
    found = candidates(['vmm', 'u'], 1)
    assert {'useradd', 'userdelete', 'usertransport', 'ua', 'us', 'ut'} <= \
        set(found)
    assert all(word.startswith('u') for word in found)
    assert 'dbu' in candidates(['vmm', 'db'], 1)


def test_options_and_choices():
    assert set(candidates(['vmm', 'us', 'a@example.org', '-'], 3)) >= {
        '-e', '-d', '-r', '--enable', '--disable', '--reset'}
    assert candidates(['vmm', 'us', 'a@example.org', '-e', ''], 4) == \
        ['imap', 'pop3', 'sieve', 'smtp']
    assert candidates(['vmm', 'di', 'x.org', '-d', 'a'], 4) == \
        ['accounts', 'aliasdomains', 'aliases']
    assert candidates(['vmm', '--'], 1) == ['--config', '--json', '--help',
                                            '--version']


def test_config_option_names():
    assert candidates(['vmm', 'cg', 'misc.crypt_s'], 2) == \
        ['misc.crypt_sha256_rounds', 'misc.crypt_sha512_rounds']
    assert candidates(['vmm', 'cf', '-s', 'ma'], 3) == ['mailbox']


def test_names_from_the_database(data):
    assert candidates(['vmm', 'di', ''], 2) == ['example.net', 'example.org',
                                                'other.test', 'relay.example']
    assert candidates(['vmm', 'ui', 'j'], 2) == ['jane@example.net',
                                                 'jane@example.org']
    assert candidates(['vmm', 'ada', 'new.example', 'ex'], 3) == \
        ['example.net', 'example.org']
    assert candidates(['vmm', 'aa', 'x@example.org', 'i'], 3) == \
        ['info@example.net', 'info@example.org']


def test_no_database_no_candidates(monkeypatch, tmp_path):
    monkeypatch.setenv('VMM_CONFIG', str(tmp_path / 'missing.cfg'))
    assert candidates(['vmm', 'di', ''], 2) == []


def _env(config_file):
    return dict(os.environ, VMM_CONFIG=config_file,
                PATH=os.path.dirname(sys.executable) + ':' +
                os.environ['PATH'])


def test_bash_function(data, config_file):
    script = ('source %s; COMP_WORDS=(vmm ui ja); COMP_CWORD=2; _vmm; '
              'printf "%%s\\n" "${COMPREPLY[@]}"'
              % os.path.join(COMPLETION, 'vmm'))
    out = subprocess.run(['bash', '-c', script], capture_output=True,
                         text=True, env=_env(config_file), check=True).stdout
    assert out.split() == ['jane@example.net', 'jane@example.org']


def test_zsh_function(data, config_file):
    zsh = shutil.which('zsh')
    assert zsh, 'zsh is not installed (tests/install-system-packages.sh)'
    script = ('compadd() { shift; print -l -- ${(P)1} }; words=(vmm ld '
              '--); CURRENT=3; source %s' % os.path.join(COMPLETION, '_vmm'))
    out = subprocess.run([zsh, '-f', '-c', script], capture_output=True,
                         text=True, env=_env(config_file), check=True).stdout
    assert '--pattern' in out.split() and '--json' in out.split()
