"""Domain policy (vmm(1), without the private Postfix): domain
limits, default aliases, the alias-loop guard and relay domains."""

import re

import pytest

from cli_helpers import (
    Unchanged,
    assert_ok,
    fails_cleanly,
    fake_postconf,
    runner,
)


def info_fields(out):
    return dict(re.match(r'\t(.*?)\.*: (.*)$', line).groups()
                for line in out.splitlines() if line.startswith('\t'))


def expand(db, address):
    local, domain = address.split('@')
    return sorted(row[1] for row in
                  db.lookup('postfix_virtual_alias_map', local, domain))


# -- limits -------------------------------------------------------------------

def test_domainlimits_show_and_set(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    fields = info_fields(assert_ok(vmm('dl', 'example.org')).out)
    assert fields == {'Domain name': 'example.org',
                      'Accounts': '0 / unlimited',
                      'Aliases': '0 / unlimited',
                      'Alias domains': '0 / unlimited'}
    out = assert_ok(vmm('domainlimits', 'example.org', '--accounts', '2',
                        '--aliases', '3', '--alias-domains', '1')).out
    assert info_fields(out)['Accounts'] == '0 / 2'
    assert db.query('SELECT max_accounts, max_aliases, max_alias_domains '
                    'FROM domain_data') == [(2, 3, 1)]
    # one at a time leaves the others
    assert_ok(vmm('dl', 'example.org', '--aliases', '0'))
    assert db.query('SELECT max_accounts, max_aliases, max_alias_domains '
                    'FROM domain_data') == [(2, 0, 1)]
    check = Unchanged(vmm, snapshot)
    check(57, 'dl', 'nowhere.example', '--accounts', '1')
    check(2, 'dl', 'example.org', '--accounts', '-1')
    check(2, 'dl', 'example.org', '--aliases', 'many')


def test_limit_defaults_from_config(tmp_path, pg, db, mail_base):
    vmm = runner(tmp_path, pg, db, mail_base,
                 domain={'max_accounts': '10', 'max_aliases': '20',
                         'max_alias_domains': '2'})
    assert_ok(vmm('da', 'example.org'))
    assert db.query('SELECT max_accounts, max_aliases, max_alias_domains '
                    'FROM domain_data') == [(10, 20, 2)]
    fields = info_fields(assert_ok(vmm('di', 'example.org')).out)
    assert fields['Accounts'] == '0 / 10'
    assert fields['Aliases'] == '0 / 20'
    assert fields['Alias domains'] == '0 / 2'


def test_account_limit(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('dl', 'example.org', '--accounts', '2'))
    assert_ok(vmm('ua', 'a@example.org', '-p', 'pw'))
    assert_ok(vmm('ua', 'b@example.org', '-p', 'pw'))
    result = fails_cleanly(vmm, snapshot, 71, 'ua', 'c@example.org', '-p',
                           'pw')
    assert 'example.org' in result.err and '2' in result.err
    assert info_fields(vmm('di', 'example.org').out)['Accounts'] == '2 / 2'
    # lowering below what is used is allowed and stops growth
    assert_ok(vmm('dl', 'example.org', '--accounts', '1'))
    assert info_fields(vmm('di', 'example.org').out)['Accounts'] == '2 / 1'
    fails_cleanly(vmm, snapshot, 71, 'ua', 'c@example.org', '-p', 'pw')
    assert_ok(vmm('ud', 'b@example.org'))
    fails_cleanly(vmm, snapshot, 71, 'ua', 'c@example.org', '-p', 'pw')
    assert_ok(vmm('ud', 'a@example.org'))
    assert_ok(vmm('ua', 'c@example.org', '-p', 'pw'))


def test_alias_limit_counts_catchall_as_one(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('dl', 'example.org', '--aliases', '2'))
    assert_ok(vmm('aa', 'a@example.org', 'x@example.com'))
    assert_ok(vmm('caa', 'example.org', 'x@example.com', 'y@example.com'))
    assert info_fields(vmm('di', 'example.org').out)['Aliases'] == '2 / 2'
    check = Unchanged(vmm, snapshot)
    check(71, 'aa', 'b@example.org', 'x@example.com')
    # more destinations for what exists are no new alias
    assert_ok(vmm('aa', 'a@example.org', 'y@example.com'))
    assert_ok(vmm('caa', 'example.org', 'z@example.com'))
    assert_ok(vmm('cad', 'example.org'))
    assert_ok(vmm('aa', 'b@example.org', 'x@example.com'))
    fails_cleanly(vmm, snapshot, 71, 'caa', 'example.org', 'x@example.com')


def test_alias_domain_limit(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('da', 'other.example'))
    assert_ok(vmm('dl', 'example.org', '--alias-domains', '1'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('ada', 'example.com', 'other.example'))
    check = Unchanged(vmm, snapshot)
    check(71, 'ada', 'example.info', 'example.org')
    check(71, 'ads', 'example.com', 'example.org')
    assert info_fields(vmm('di', 'example.org').out)['Alias domains'] == \
        '1 / 1'


# -- default aliases ---------------------------------------------------------

def test_default_aliases(tmp_path, pg, db, mail_base):
    vmm = runner(tmp_path, pg, db, mail_base, domain={
        'default_aliases': 'abuse=postmaster@%d, hostmaster=hostmaster@'
                           'example.com,postmaster=root@example.com'})
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert db.query('SELECT address, destination FROM alias ORDER BY 1') \
        == [('abuse', 'postmaster@%d'),
            ('hostmaster', 'hostmaster@example.com'),
            ('postmaster', 'root@example.com')]
    assert db.lookup('postfix_virtual_alias_map', 'abuse', 'example.org') \
        == [('abuse@example.org', 'postmaster@example.org')]
    assert db.lookup('postfix_virtual_alias_map', 'abuse', 'example.net') \
        == [('abuse@example.net', 'postmaster@example.net')]
    assert expand(db, 'postmaster@example.org') == ['root@example.com']
    assert info_fields(vmm('di', 'example.org').out)['Aliases'] == \
        '3 / unlimited'


def test_default_aliases_count_against_the_limit(tmp_path, pg, db,
                                                 mail_base, snapshot):
    vmm = runner(tmp_path, pg, db, mail_base, domain={
        'default_aliases': 'abuse=postmaster@%d, noc=postmaster@%d',
        'max_aliases': '1'})
    result = fails_cleanly(vmm, snapshot, 71, 'da', 'example.org')
    assert db.query('SELECT * FROM domain_data') == []
    assert 'example.org' in result.err


# -- the alias-loop guard ----------------------------------------------------

@pytest.fixture
def loops(vmm):
    for name in ('example.org', 'other.example'):
        assert_ok(vmm('da', name))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    return vmm


def test_loop_direct_cycle(loops, snapshot):
    vmm = loops
    assert_ok(vmm('aa', 'a@example.org', 'b@example.org'))
    result = fails_cleanly(vmm, snapshot, 72, 'aa', 'b@example.org',
                           'a@example.org')
    assert 'b@example.org → a@example.org → b@example.org' in result.err
    # a longer cycle across domains
    assert_ok(vmm('aa', 'b@example.org', 'c@other.example'))
    result = fails_cleanly(vmm, snapshot, 72, 'aa', 'c@other.example',
                           'jane@example.org', 'a@example.org')
    assert '→' in result.err


def test_loop_through_alias_domain(loops, snapshot):
    vmm = loops
    assert_ok(vmm('aa', 'a@example.org', 'b@example.net'))
    assert_ok(vmm('aa', 'b@example.org', 'a@example.org'))
    # the alias domain that closes the cycle is refused
    result = fails_cleanly(vmm, snapshot, 72, 'ada', 'example.net',
                           'example.org')
    assert 'example.net' in result.err
    # and an alias through an existing alias domain
    assert_ok(vmm('ada', 'example.com', 'other.example'))
    assert_ok(vmm('aa', 'x@other.example', 'y@example.org'))
    fails_cleanly(vmm, snapshot, 72, 'aa', 'y@example.org',
                  'x@example.com')
    # switching an alias domain can close a cycle too
    assert_ok(vmm('ada', 'example.info', 'other.example'))
    assert_ok(vmm('aa', 'p@example.org', 'q@example.info'))
    assert_ok(vmm('aa', 'q@example.org', 'p@example.org'))
    fails_cleanly(vmm, snapshot, 72, 'ads', 'example.info', 'example.org')


def test_loop_through_placeholder(loops, snapshot):
    vmm = loops
    assert_ok(vmm('aa', 'info@example.org', '%n@other.example'))
    result = fails_cleanly(vmm, snapshot, 72, 'aa', 'info@other.example',
                           '%n@example.org')
    assert 'info@' in result.err
    fails_cleanly(vmm, snapshot, 72, 'aa', 'info@other.example',
                  'info@example.org')
    # an alias to itself stops Postfix's expansion there, and the mail
    # bounces: no account has the address
    result = fails_cleanly(vmm, snapshot, 72, 'aa', 'self@example.org',
                           '%n@%d')
    assert 'self@example.org → self@example.org' in result.err


def test_loop_back_through_its_own_alias_domain(loops, snapshot):
    """r@example.org → r@example.net expands, under the alias domain, to
    r@example.net itself: Postfix stops there and bounces the mail."""
    vmm = loops
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    check = Unchanged(vmm, snapshot)
    for destination in ('r@example.net', '%n@example.net', 'R@Example.NET'):
        result = check(72, 'aa', 'r@example.org', destination)
        assert 'r@example.org → r@example.net → r@example.net' \
            in result.err, result.err
    # the same alias domain added afterwards closes the same loop
    assert_ok(vmm('aa', 's@example.org', 's@example.com'))
    assert_ok(vmm('ada', 'example.com', 'other.example'))
    check = Unchanged(vmm, snapshot)
    result = check(72, 'ads', 'example.com', 'example.org')
    assert 's@example.com → s@example.com' in result.err
    # a catch-all that sends unknown local parts to the alias domain
    result = check(72, 'caa', 'example.org', '%n@example.net')
    assert '@example.net → ' in result.err
    # accounts map to themselves under a catch-all: that is delivery
    assert_ok(vmm('caa', 'example.org', 'jane@example.net'))
    assert_ok(vmm('aa', 'team@example.org', 'jane@example.net',
                  '%n-list@other.example'))


def test_loop_catchall_cycle(loops, snapshot):
    vmm = loops
    assert_ok(vmm('caa', 'example.org', '%n@other.example'))
    result = fails_cleanly(vmm, snapshot, 72, 'caa', 'other.example',
                           '%n@example.org')
    assert '→' in result.err
    # an existing account wins over the catch-all: no loop through it
    assert_ok(vmm('caa', 'other.example', 'jane@example.org'))


def test_loop_chain_deeper_than_recursion_limit(tmp_path, pg, db,
                                                mail_base, snapshot):
    postconf = fake_postconf(tmp_path, virtual_alias_recursion_limit=5,
                             virtual_alias_expansion_limit=1000)
    vmm = runner(tmp_path, pg, db, mail_base, bin={'postconf': postconf})
    assert_ok(vmm('da', 'example.org'))
    for i in range(1, 6):       # c1 → … → c6: five levels, allowed
        assert_ok(vmm('aa', 'c%d@example.org' % i,
                      'c%d@example.org' % (i + 1)))
    check = Unchanged(vmm, snapshot)
    result = check(72, 'aa', 'c6@example.org', 'c7@example.org')
    assert 'virtual_alias_recursion_limit' in result.err
    check(72, 'aa', 'c0@example.org', 'c1@example.org')
    # a branch that stays within the limit is fine
    assert_ok(vmm('aa', 'c5@example.org', 'elsewhere@example.com'))


def test_long_legal_chain_and_foreign_destinations(loops, db):
    vmm = loops
    for i in range(30):
        assert_ok(vmm('aa', 'l%d@example.org' % i,
                      'l%d@other.example' % (i + 1)))
        assert_ok(vmm('aa', 'l%d@other.example' % (i + 1),
                      'l%d@example.org' % (i + 1), 'copy@example.com'))
    assert_ok(vmm('aa', 'l30@example.org', 'jane@example.org',
                  'someone@example.com', 'list@lists.example.net'))
    # aliases that point at each other's foreign namesakes never loop
    assert_ok(vmm('aa', 'x@example.org', 'x@example.com'))
    assert_ok(vmm('aa', 'y@example.org', 'x@example.com', 'x@example.org'))
    assert_ok(vmm('caa', 'example.org', 'catch@example.com'))
    assert expand(db, 'l30@example.org') == [
        'jane@example.org', 'list@lists.example.net', 'someone@example.com']


# -- relay domains -----------------------------------------------------------

def test_relay_domains(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('relaydomainadd', 'backup.example'))
    assert_ok(vmm('rla', 'listed.example', '-t', 'smtp:[mx.listed.example]',
                  '--recipient', 'a@listed.example', 'B@listed.example'))
    assert_ok(vmm('rla', 'bücher.example'))
    assert db.lookup('postfix_relay_domain_map', 'backup.example') == \
        [('backup.example', 'OK')]
    assert db.lookup('postfix_relay_domain_map', 'example.org') == []
    # without a list: any recipient; with one: only those
    assert db.lookup('postfix_relay_recipient_map', 'anyone',
                     'backup.example') == [('anyone@backup.example', 'OK')]
    assert db.lookup('postfix_relay_recipient_map', 'b', 'listed.example') \
        == [('b@listed.example', 'OK')]
    assert db.lookup('postfix_relay_recipient_map', 'c',
                     'listed.example') == []
    assert db.lookup('postfix_relay_recipient_map', 'a', 'example.org') == []
    assert db.lookup('postfix_transport_map', 'x', 'backup.example') == \
        [('x@backup.example', 'smtp:')]
    assert db.lookup('postfix_transport_map', 'a', 'listed.example') == \
        [('a@listed.example', 'smtp:[mx.listed.example]')]
    fields = info_fields(assert_ok(vmm('relaydomaininfo',
                                       'listed.example')).out)
    assert fields['Transport'] == 'smtp:[mx.listed.example]'
    assert fields['Recipients'] == 'a@listed.example, b@listed.example'
    fields = info_fields(assert_ok(vmm('rli', 'xn--bcher-kva.example')).out)
    assert fields['Relay domain'] == 'bücher.example'
    assert fields['Recipients'] == 'any'
    listing = vmm('ld').out
    assert '\t[r] backup.example\n' in listing
    assert '\t[r] bücher.example\n' in listing
    assert '\t[+] example.org\n' in listing
    # a name is one kind of domain only
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    check = Unchanged(vmm, snapshot)
    check(38, 'rla', 'backup.example')
    check(38, 'rla', 'example.org')
    check(37, 'rla', 'example.net')
    check(38, 'da', 'backup.example')
    check(38, 'ada', 'backup.example', 'example.org')
    check(25, 'ada', 'new.example', 'backup.example')
    check(43, 'rla', 'new.example', '--recipient', 'a@other.example')
    check(44, 'rla', 'new.example', '-t', 'smtp: bad')
    check(57, 'rli', 'nowhere.example')
    check(57, 'rld', 'nowhere.example')
    assert_ok(vmm('relaydomaindelete', 'listed.example'))
    assert_ok(vmm('rld', 'backup.example'))
    assert db.lookup('postfix_relay_domain_map', 'listed.example') == []
    assert db.query('SELECT * FROM relay_recipient') == []
    assert db.lookup('postfix_transport_map', 'x', 'backup.example') == []
    # the name is free again
    assert_ok(vmm('da', 'backup.example'))


def test_relay_transport_from_config(tmp_path, pg, db, mail_base):
    vmm = runner(tmp_path, pg, db, mail_base,
                 misc={'relay_transport': 'relay:[backup-mx.example]'})
    assert_ok(vmm('rla', 'backup.example'))
    assert db.lookup('postfix_transport_map', 'x', 'backup.example') == \
        [('x@backup.example', 'relay:[backup-mx.example]')]
