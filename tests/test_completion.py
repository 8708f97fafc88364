"""Shell completion: the candidates, and the bash and zsh functions that
ask for them."""

import os
import shutil
import subprocess
import sys

import pytest

from vmm.completion import candidates

from cli_helpers import assert_error, assert_ok

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
    assert candidates(['vmm', 'di', ''], 2) == ['example.org', 'other.test']
    assert candidates(['vmm', 'ui', 'j'], 2) == ['jane@example.net',
                                                 'jane@example.org']
    # an alias domain's destination is a primary domain
    assert candidates(['vmm', 'ada', 'new.example', 'ex'], 3) == \
        ['example.org']
    assert candidates(['vmm', 'aa', 'x@example.org', 'j'], 3) == \
        ['jane@example.net', 'jane@example.org']
    assert candidates(['vmm', 'ai', 'i'], 2) == \
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


# -- only what the command accepts ------------------------------------------

@pytest.fixture
def site(vmm, db, config_file, monkeypatch):
    for args in (
            ('da', 'example.org'), ('ada', 'example.net', 'example.org'),
            ('da', 'bücher.example'), ('ada', 'öl.example', 'bücher.example'),
            ('rla', 'relay.example'),
            ('ua', 'jane@example.org', '-p', 'x'),
            ('ua', 'otto@bücher.example', '-p', 'x'),
            ('aa', 'info@example.org', 'jane@example.org'),
            ('aa', 'team@bücher.example', 'otto@bücher.example',
             'jane@example.org'),
            ('ra', 'old@example.org', 'jane@example.org'),
            ('ra', 'weg@bücher.example', 'otto@bücher.example'),
            ('caa', 'bücher.example', 'otto@bücher.example',
             'jane@example.org')):
        assert_ok(vmm(*args))
    monkeypatch.setenv('VMM_CONFIG', config_file)
    return vmm


def offered(*words):
    """The candidates for a new word after ``vmm WORDS``."""
    return candidates(['vmm', *words, ''], len(words) + 1)


PRIMARY = ['bücher.example', 'example.org']
ALIAS_DOMAINS = ['example.net', 'öl.example']
ACCOUNTS = ['jane@example.net', 'jane@example.org', 'otto@bücher.example',
            'otto@öl.example']


def test_domain_commands_offer_what_they_accept(site):
    vmm = site
    for command in ('domaininfo', 'catchallinfo', 'domainlimits'):
        assert offered(command) == PRIMARY, command
        for name in PRIMARY:
            assert_ok(vmm(command, name))
        # refused, so not offered: alias domains, relay domains, ACE
        assert_error(vmm(command, 'example.net'), 57)
        assert_error(vmm(command, 'relay.example'), 57)
    assert offered('domainnote') == PRIMARY
    for name in PRIMARY:
        assert_ok(vmm('domainnote', name, '-n', 'note'))
    assert offered('aliasdomaininfo') == ALIAS_DOMAINS
    for name in ALIAS_DOMAINS:
        assert_ok(vmm('aliasdomaininfo', name))
    assert_error(vmm('aliasdomaininfo', 'example.org'), 24)
    assert offered('relaydomaininfo') == ['relay.example']
    assert_ok(vmm('relaydomaininfo', 'relay.example'))
    assert_error(vmm('relaydomaininfo', 'example.org'), 57)
    # a new name: nothing to offer
    assert offered('domainadd') == []
    assert offered('aliasdomainadd') == []
    assert offered('aliasdomainadd', 'new.example') == PRIMARY
    assert_ok(vmm('aliasdomainadd', 'new.example', 'bücher.example'))
    assert offered('aliasdomainswitch') == \
        ['example.net', 'new.example', 'öl.example']
    assert offered('aliasdomainswitch', 'new.example') == PRIMARY
    for name in PRIMARY:
        assert_ok(vmm('aliasdomainswitch', 'new.example', name))
    # prefixes match the Unicode form as shown
    assert candidates(['vmm', 'di', 'b'], 2) == ['bücher.example']
    assert candidates(['vmm', 'adi', 'ö'], 2) == ['öl.example']
    assert candidates(['vmm', 'di', 'xn--'], 2) == []


def test_address_commands_offer_what_they_accept(site):
    vmm = site
    for command in ('userinfo', 'usernote'):
        assert offered(command) == ACCOUNTS, command
    for address in ACCOUNTS:
        assert_ok(vmm('userinfo', address))
    # a relocated user and an alias are refused, so not offered
    assert_error(vmm('userinfo', 'old@example.org'), 52)
    assert_error(vmm('userinfo', 'info@example.org'), 52)
    assert candidates(['vmm', 'ui', 'otto@'], 2) == \
        ['otto@bücher.example', 'otto@öl.example']
    assert candidates(['vmm', 'ui', 'otto@ö'], 2) == ['otto@öl.example']
    assert candidates(['vmm', 'ui', 'otto@xn--'], 2) == []
    aliases = ['info@example.net', 'info@example.org', 'team@bücher.example',
               'team@öl.example']
    assert offered('aliasinfo') == aliases
    for address in aliases:
        assert_ok(vmm('aliasinfo', address))
    assert_error(vmm('aliasinfo', 'jane@example.org'), 21)
    relocated = ['old@example.net', 'old@example.org', 'weg@bücher.example',
                 'weg@öl.example']
    assert offered('relocatedinfo') == relocated
    for address in relocated:
        assert_ok(vmm('relocatedinfo', address))
    assert_error(vmm('relocatedinfo', 'jane@example.org'), 58)
    assert offered('useradd') == [] and offered('relocatedadd') == []


def test_destinations_offered_are_accepted(site):
    vmm = site
    # aliasadd takes an alias under its primary domain only
    assert offered('aliasadd') == ['info@example.org', 'team@bücher.example']
    assert offered('aliasadd', 'info@example.org') == ACCOUNTS
    for destination in ACCOUNTS:
        assert_ok(vmm('aliasadd', 'new@example.org', destination))
    assert offered('catchalladd', 'example.org') == ACCOUNTS
    for destination in ACCOUNTS:
        assert_ok(vmm('catchalladd', 'example.org', destination))
    assert offered('relocatedadd', 'moved@example.org') == ACCOUNTS
    assert_ok(vmm('relocatedadd', 'moved@example.org', 'otto@öl.example'))
    # deleting: the destinations there are
    assert offered('aliasdelete', 'team@bücher.example') == \
        ['jane@example.org', 'otto@bücher.example']
    assert candidates(['vmm', 'ad', 'team@öl.example', 'o'], 3) == \
        ['otto@bücher.example']
    assert offered('catchalldelete', 'bücher.example') == \
        ['jane@example.org', 'otto@bücher.example']
    for destination in ('jane@example.org', 'otto@bücher.example'):
        assert_ok(vmm('aliasdelete', 'team@bücher.example', destination))
        assert_ok(vmm('catchalldelete', 'bücher.example', destination))
    assert offered('aliasdelete', 'team@bücher.example') == []
    assert offered('catchalldelete', 'bücher.example') == []
