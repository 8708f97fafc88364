"""Lists and the rest through the real entry point (vmm(1) ARGUMENTS):
listdomains, listaddresses, listaliases, listrelocated, listusers with the
pattern rules, listpwschemes, help, version, configget, configset,
configure, dbupgrade."""

import json
import os
import re
import stat

import pytest

from cli_helpers import Unchanged, assert_error, assert_ok
from conftest import Runner, write_config


@pytest.fixture
def site(vmm):
    for args in [
            ('da', 'example.org'), ('ada', 'example.net', 'example.org'),
            ('da', 'bücher.example'), ('da', 'other.test'),
            ('rla', 'relay.example'),
            ('ua', 'jane@example.org', '-p', 'pw'),
            ('ua', 'john@example.org', '-p', 'pw'),
            ('ua', 'jane@other.test', '-p', 'pw'),
            ('ua', 'otto@bücher.example', '-p', 'pw'),
            ('aa', 'info@example.org', 'jane@example.org',
             'john@example.org'),
            ('aa', 'sales@other.test', 'jane@other.test'),
            ('ra', 'old@example.org', 'jane@example.org'),
            ('ra', 'gone@bücher.example', 'otto@bücher.example')]:
        assert_ok(vmm(*args))
    return vmm


def entries(result, title=None):
    assert_ok(result)
    lines = result.out.splitlines()
    if title is not None:
        assert lines[0] == title
        assert set(lines[1]) == {'-'} and len(lines[1]) == len(title)
    found = [line[1:] for line in lines if line.startswith('\t')]
    return [] if found == ['(none)'] else found


def test_listdomains(site):
    vmm = site
    assert entries(vmm('listdomains'), 'Matching domains') == [
        '[+] bücher.example', '[+] example.org', '    [-] example.net',
        '[+] other.test', '[r] relay.example']
    assert entries(vmm('ld', '-p', 'example%')) == [
        '[+] example.org', '    [-] example.net']
    assert entries(vmm('ld', '-p', '%.test')) == ['[+] other.test']
    assert entries(vmm('ld', '-p', '%er%')) == [
        '[+] bücher.example', '[+] other.test']
    assert entries(vmm('ld', '-p', 'other.test')) == ['[+] other.test']
    assert entries(vmm('ld', '-p', '%relay%')) == ['[r] relay.example']
    # IDN: Unicode and ACE patterns, whole or partial labels
    for pattern in ('bücher.example', 'xn--bcher-kva.example', 'büch%',
                    '%ücher.example', '%Ü%', 'xn--bcher%'):
        assert entries(vmm('ld', '--pattern', pattern)) == \
            ['[+] bücher.example'], pattern
    assert entries(vmm('ld', '-p', 'nothing%')) == []


def test_listaddresses(site):
    vmm = site
    # sorted by domain as shown, then local part
    assert entries(vmm('listaddresses'), 'Matching addresses') == [
        '[+] r gone@bücher.example', '[+] u otto@bücher.example',
        '[-] a info@example.net', '[-] u jane@example.net',
        '[-] u john@example.net', '[-] r old@example.net',
        '[+] a info@example.org', '[+] u jane@example.org',
        '[+] u john@example.org', '[+] r old@example.org',
        '[+] u jane@other.test', '[+] a sales@other.test']
    # without @: the domain part only
    assert sorted(entries(vmm('ll', '-p', 'example.org'))) == [
        '[+] a info@example.org', '[+] r old@example.org',
        '[+] u jane@example.org', '[+] u john@example.org']
    assert entries(vmm('ll', '-p', 'j%')) == []
    # local part and domain separately
    assert sorted(entries(vmm('ll', '-p', 'ja%@%example%'))) == [
        '[+] u jane@example.org', '[-] u jane@example.net']
    assert sorted(entries(vmm('ll', '-p', '%oh%@%'))) == [
        '[+] u john@example.org', '[-] u john@example.net']
    assert sorted(entries(vmm('ll', '-p', '%o@%'))) == [
        '[+] a info@example.org', '[+] u otto@bücher.example',
        '[-] a info@example.net']
    assert sorted(entries(vmm('ll', '-p', '%@%ücher%'))) == [
        '[+] r gone@bücher.example', '[+] u otto@bücher.example']
    assert entries(vmm('ll', '-p', 'jane@other.test')) == [
        '[+] u jane@other.test']


def test_listusers_aliases_relocated(site):
    vmm = site
    assert entries(vmm('listusers', '-p', 'example.org'),
                   'Matching user accounts') == [
        '[+] jane@example.org', '[+] john@example.org']
    assert entries(vmm('lu', '-p', '%@other.test')) == ['[+] jane@other.test']
    assert entries(vmm('lu', '-p', 'büch%')) == ['[+] otto@bücher.example']
    assert sorted(entries(vmm('listaliases'), 'Matching aliases')) == [
        '[+] info@example.org', '[+] sales@other.test',
        '[-] info@example.net']
    assert entries(vmm('la', '-p', 's%@%')) == ['[+] sales@other.test']
    assert sorted(entries(vmm('listrelocated'),
                          'Matching relocated users')) == [
        '[+] gone@bücher.example', '[+] old@example.org',
        '[-] old@example.net']
    assert entries(vmm('lr', '-p', '%.org')) == ['[+] old@example.org']


def test_list_pattern_errors(site, snapshot):
    check = Unchanged(site, snapshot)
    for cmd in ('ld', 'll', 'la', 'lu', 'lr'):
        check(44, cmd, '-p', 'a%b')
    check(44, 'll', '-p', '%%@%%@x')
    check(44, 'll', '-p', 'a%b@exa%mple.org')
    check(44, 'lu', '-p', "'; DROP TABLE users; --")


def test_list_empty_database(vmm):
    for cmd in ('ld', 'll', 'la', 'lu', 'lr'):
        result = assert_ok(vmm(cmd))
        assert result.out.splitlines()[2] == '\t(none)'


# -- listpwschemes, help, version -----------------------------------------

def test_listpwschemes(vmm):
    for cmd in ('listpwschemes', 'lp'):
        out = assert_ok(vmm(cmd)).out
        assert '\tSHA512-CRYPT\n' in out and '\tBLF-CRYPT\n' in out
        for suffix in ('.B64', '.BASE64', '.HEX'):
            assert '\t%s\n' % suffix in out


def test_help(vmm):
    from vmm.cli import COMMANDS
    out = assert_ok(vmm('help')).out
    assert out.startswith('usage: vmm')
    for name, (short, _module, _writes) in COMMANDS.items():
        assert re.search(r'^    %s \(%s\)(  |$)' % (name, short), out,
                         re.M), name
    for name, (short, _module, _writes) in COMMANDS.items():
        result = assert_ok(vmm('help', name))
        assert result.out.startswith('usage: vmm %s' % name), name
        assert vmm('h', short).out == result.out
        assert assert_ok(vmm(short, '-h')).out == result.out
        assert assert_ok(vmm(name, '--help')).out == result.out
    assert_ok(vmm('-h'))
    assert_error(vmm('help', 'nosuchcommand'), 2)
    assert_error(vmm('nosuchcommand'), 2)
    assert_error(vmm('DA', 'example.org'), 2)   # names are case sensitive
    assert_error(vmm(), 2)


def test_version(vmm):
    from vmm import __version__
    outputs = [assert_ok(vmm(*args)).out for args in
               (['version'], ['v'], ['-v'], ['--version'])]
    assert all(out == outputs[0] for out in outputs)
    assert __version__ in outputs[0]
    assert outputs[0].splitlines()[1] == 'Licence: BSD 3-clause; see COPYING.'



# -- configget / configset / configure -----------------------------------

def test_configget_configset(vmm, config_file, mail_base, snapshot):
    for cmd in ('configget', 'cg'):
        assert assert_ok(vmm(cmd, 'misc.base_directory')).out == \
            'misc.base_directory = %s\n' % mail_base
    assert vmm('cg', 'account.password_length').out == \
        'account.password_length = 8\n'
    assert_ok(vmm('configset', 'account.password_length', '12'))
    assert_ok(vmm('cs', 'domain.quota_bytes', '1G'))
    assert vmm('cg', 'account.password_length').out == \
        'account.password_length = 12\n'
    assert os.path.exists(config_file + '.bak')
    assert stat.S_IMODE(os.stat(config_file).st_mode) == 0o600
    # the new default is used by domainadd
    assert_ok(vmm('da', 'example.org'))
    check = Unchanged(vmm, snapshot)
    with open(config_file) as handle:
        config_text = handle.read()
    check(46, 'cg', 'nosuchsection.option')
    check(44, 'cg', 'misc.nosuchoption')
    check(31, 'cs', 'account.password_length', '3')
    check(31, 'cs', 'misc.base_directory', 'relative/path')
    check(46, 'cs', 'nosuchsection.x', '1')
    # one line of text: no second option smuggled in, no NUL
    check(31, 'cs', 'misc.dovecot_version', '2.3\nbase_directory = /etc')
    check(31, 'cs', 'misc.base_directory', str(mail_base) + '\x00')
    check(31, 'cs', 'database.pass', 'pw\r')
    with open(config_file) as handle:
        assert handle.read() == config_text


def test_configure(vmm, config_file):
    options = ['delete_directory', 'directory_mode', 'disk_usage',
               'random_password', 'password_length']
    answers = ['', '', '', 'true', 'not-a-number', '10']
    for cmd in ('configure', 'cf'):
        result = assert_ok(vmm(cmd, '-s', 'account',
                               input='\n'.join(answers) + '\n'))
        for option in options:
            assert '  %s [' % option in result.out
        assert vmm('cg', 'account.random_password').out == \
            'account.random_password = true\n'
        assert vmm('cg', 'account.password_length').out == \
            'account.password_length = 10\n'
        assert ('Warning: ' in result.err) == (cmd == 'configure')
        answers = [''] * 5
    assert_error(vmm('cf', '-s', 'nosuchsection', input='\n'), 46)
    # end of input at a prompt: interrupted, nothing written
    assert_error(vmm('cf', '-s', 'account', input=''), 3)


# -- dbupgrade ----------------------------------------------------------------

def test_dbupgrade_current_schema_left_alone(vmm, snapshot):
    before = snapshot()
    for cmd in ('dbupgrade', 'dbu'):
        result = assert_ok(vmm(cmd))
        assert 'nothing to do' in result.out
    assert snapshot() == before


def test_dbupgrade_creates_schema_in_empty_database(pg, tmp_path,
                                                   mail_base):
    name = 'vmm_empty_%d' % os.getpid()
    pg.execute('CREATE DATABASE %s' % name)
    try:
        vmm = Runner(write_config(tmp_path / 'empty.cfg', pg, name,
                                  mail_base))
        result = vmm('da', 'example.org')
        assert_error(result, 35)
        assert 'dbupgrade' in result.err
        assert_ok(vmm('dbupgrade'))
        assert_ok(vmm('da', 'example.org'))
        assert 'nothing to do' in assert_ok(vmm('dbu')).out
    finally:
        pg.execute('DROP DATABASE %s WITH (FORCE)' % name)


def test_listdomains_pattern_on_an_alias_domain_shows_its_primary(vmm, db):
    for args in (('da', 'example.org'), ('ada', 'example.net', 'example.org'),
                 ('ada', 'example.com', 'example.org'), ('da', 'other.test')):
        assert vmm(*args).code == 0
    result = vmm('ld', '-p', '%.net')
    lines = [l.strip() for l in result.out.splitlines() if '[' in l]
    assert lines == ['[+] example.org', '[-] example.net']


def test_userpassword_hash_refuses_a_scheme(vmm, db, snapshot):
    assert vmm('da', 'example.org').code == 0
    assert vmm('ua', 'a@example.org', '-p', 'x').code == 0
    before = snapshot()
    result = vmm('up', 'a@example.org', '--hash', '{PLAIN}y', '-s', 'SHA')
    assert result.code == 2 and result.err.count('\n') == 1
    assert snapshot() == before


# -- order: the names as shown, not their ACE form ---------------------------

@pytest.fixture
def idn_site(vmm):
    """Names whose ACE order (bar, pop, xn--…, xylo, zoo), code point order
    (ärger after zoo) and the order a reader expects all differ."""
    for args in [
            ('da', 'zoo.example'), ('da', 'xylo.example'),
            ('da', 'ärger.example'), ('da', 'bar.example'),
            ('ada', 'pop.example', 'bar.example'),
            ('ada', 'öl.example', 'bar.example'),
            ('rla', 'übel.example'),
            ('ua', 'ba@ärger.example', '-p', 'pw'),
            ('ua', 'b.z@ärger.example', '-p', 'pw'),
            ('ua', 'c@bar.example', '-p', 'pw'),
            ('ua', 'a@zoo.example', '-p', 'pw'),
            ('aa', 'x@zoo.example', 'a@zoo.example'),
            ('aa', 'x@ärger.example', 'ba@ärger.example'),
            ('ra', 'r@zoo.example', 'a@zoo.example'),
            ('ra', 'r@ärger.example', 'a@zoo.example'),
            ('aa', 'z@bar.example', 'c@pop.example', 'c@öl.example'),
            ('caa', 'bar.example', 'c@pop.example', 'a@zoo.example',
             'c@öl.example')]:
        assert_ok(vmm(*args))
    return vmm


def json_list(vmm, key, *argv):
    result = vmm('--json', *argv)
    assert_ok(result)
    return json.loads(result.out)[key]


def section(result, title):
    """The entries under *title* in an info command's output."""
    lines = assert_ok(result).out.splitlines()
    start = lines.index(title) + 2
    found = []
    for line in lines[start:]:
        if not line.startswith('\t'):
            break
        found.append(line[1:])
    return found


def test_listdomains_sorts_by_the_unicode_name(idn_site):
    vmm = idn_site
    assert entries(vmm('listdomains')) == [
        '[+] ärger.example', '[+] bar.example', '    [-] öl.example',
        '    [-] pop.example', '[r] übel.example', '[+] xylo.example',
        '[+] zoo.example']
    assert [(d['kind'], d['name']) for d in json_list(vmm, 'domains', 'ld')] \
        == [('primary', 'ärger.example'), ('primary', 'bar.example'),
            ('alias', 'öl.example'), ('alias', 'pop.example'),
            ('relay', 'übel.example'), ('primary', 'xylo.example'),
            ('primary', 'zoo.example')]
    assert entries(vmm('ld', '-p', '%.example')) == entries(vmm('ld'))


def test_address_listings_sort_by_the_unicode_domain(idn_site):
    vmm = idn_site
    assert entries(vmm('listaddresses')) == [
        '[+] u b.z@ärger.example', '[+] u ba@ärger.example',
        '[+] r r@ärger.example', '[+] a x@ärger.example',
        '[+] u c@bar.example', '[+] a z@bar.example', '[-] u c@öl.example',
        '[-] a z@öl.example', '[-] u c@pop.example', '[-] a z@pop.example',
        '[+] u a@zoo.example', '[+] r r@zoo.example', '[+] a x@zoo.example']
    assert [a['address'] for a in json_list(vmm, 'addresses', 'll')] == [
        'b.z@ärger.example', 'ba@ärger.example', 'r@ärger.example',
        'x@ärger.example', 'c@bar.example', 'z@bar.example', 'c@öl.example',
        'z@öl.example', 'c@pop.example', 'z@pop.example', 'a@zoo.example',
        'r@zoo.example', 'x@zoo.example']
    assert entries(vmm('listusers')) == [
        '[+] b.z@ärger.example', '[+] ba@ärger.example', '[+] c@bar.example',
        '[-] c@öl.example', '[-] c@pop.example', '[+] a@zoo.example']
    assert [a['address'] for a in json_list(vmm, 'addresses', 'lu')] == [
        'b.z@ärger.example', 'ba@ärger.example', 'c@bar.example',
        'c@öl.example', 'c@pop.example', 'a@zoo.example']
    assert entries(vmm('listaliases')) == [
        '[+] x@ärger.example', '[+] z@bar.example', '[-] z@öl.example',
        '[-] z@pop.example', '[+] x@zoo.example']
    assert [a['address'] for a in json_list(vmm, 'addresses', 'la')] == [
        'x@ärger.example', 'z@bar.example', 'z@öl.example', 'z@pop.example',
        'x@zoo.example']
    assert entries(vmm('listrelocated')) == [
        '[+] r@ärger.example', '[+] r@zoo.example']
    assert [a['address'] for a in json_list(vmm, 'addresses', 'lr')] == [
        'r@ärger.example', 'r@zoo.example']
    # a pattern that selects IDN names by a Unicode fragment
    assert entries(vmm('lu', '-p', '%r%')) == [
        '[+] b.z@ärger.example', '[+] ba@ärger.example', '[+] c@bar.example']


def test_domaininfo_details_sort_as_shown(idn_site):
    vmm = idn_site
    assert section(vmm('di', 'bar.example', '-d', 'aliasdomains'),
                   'Alias domains') == ['öl.example', 'pop.example']
    assert json_list(vmm, 'aliasdomains', 'di', 'bar.example', '-d',
                     'aliasdomains') == ['öl.example', 'pop.example']
    assert section(vmm('di', 'bar.example', '-d', 'catchall'),
                   'Catch-all destinations') == [
        'a@zoo.example', 'c@öl.example', 'c@pop.example']
    assert json_list(vmm, 'catchall', 'di', 'bar.example', '-d',
                     'catchall') == [
        'a@zoo.example', 'c@öl.example', 'c@pop.example']
    assert section(vmm('di', 'ärger.example', '-d', 'accounts'),
                   'Available accounts') == [
        'b.z@ärger.example', 'ba@ärger.example']
    full = vmm('di', 'ärger.example', '-d', 'full')
    assert section(full, 'Available aliases') == ['x@ärger.example']
    assert section(full, 'Relocated users') == ['r@ärger.example']
    assert json_list(vmm, 'accounts', 'di', 'ärger.example', '-d',
                     'full') == ['b.z@ärger.example', 'ba@ärger.example']


def test_info_destinations_sort_as_shown(idn_site):
    vmm = idn_site
    assert section(vmm('aliasinfo', 'z@bar.example'),
                   'Alias information: z@bar.example') == [
        'c@öl.example', 'c@pop.example']
    assert section(vmm('catchallinfo', 'bar.example'),
                   'Catch-all information: bar.example') == [
        'a@zoo.example', 'c@öl.example', 'c@pop.example']
    assert section(vmm('userinfo', 'c@bar.example', '-d', 'aliases'),
                   'Aliases and catch-alls pointing here') == [
        '@bar.example → c@öl.example', '@bar.example → c@pop.example',
        'z@bar.example → c@öl.example', 'z@bar.example → c@pop.example']
