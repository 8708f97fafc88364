"""Domains and alias domains through the real entry point (vmm(1)):
domainadd, domaindelete, domaininfo, domainquota, domainservices,
domaintransport, domainnote, aliasdomainadd, aliasdomaindelete,
aliasdomaininfo, aliasdomainswitch — long and short names, the database
rows, the directory tree, and the failures with their exit codes and no
change."""

import os
import re

import pytest
from passlib.hash import sha512_crypt

from cli_helpers import (
    Unchanged,
    account_row,
    assert_ok,
    check_domain_directory,
    check_maildir,
    domain_row,
    fails_cleanly,
    runner,
)

IDN = 'bücher.example'
IDN_ACE = 'xn--bcher-kva.example'


def domain_settings(db, name):
    """(transport, bytes, messages, smtp, pop3, imap, sieve, note)."""
    return db.query(
        'SELECT t.transport, q.bytes, q.messages, s.smtp, s.pop3, s.imap, '
        's.sieve, d.note FROM domain_data d JOIN domain_name n ON '
        'n.gid = d.gid AND n.is_primary JOIN transport t ON t.tid = d.tid '
        'JOIN quotalimit q ON q.qid = d.qid JOIN service_set s ON '
        's.ssid = d.ssid WHERE n.domainname = %s', (name,))[0]


def account_overrides(db, address):
    local, domain = address.split('@')
    return db.query('SELECT u.tid, u.qid, u.ssid FROM users u JOIN '
                    'domain_name n ON n.gid = u.gid WHERE n.domainname = %s '
                    'AND u.local_part = %s', (domain, local))[0]


# -- domainadd ----------------------------------------------------------------

def test_domainadd_creates_row_and_directory(vmm, db, mail_base):
    assert_ok(vmm('domainadd', 'example.org'))
    gid, directory = domain_row(db, 'example.org')
    assert gid >= 70000
    check_domain_directory(mail_base, gid, directory, 0o770)
    assert os.listdir(directory) == []
    # vmm.cfg's defaults
    assert domain_settings(db, 'example.org') == (
        'lmtp:unix:private/dovecot-lmtp', 0, 0, True, True, True, True,
        None)
    assert db.query('SELECT * FROM postfix_gid WHERE domainname = %s',
                    ('example.org',)) == [(gid, 'example.org')]
    assert_ok(vmm('da', 'example.net'))
    assert domain_row(db, 'example.net')[0] == gid + 1
    check_domain_directory(mail_base, gid + 1,
                           domain_row(db, 'example.net')[1], 0o770)


def test_domainadd_transport_note_and_config_defaults(tmp_path, pg, db,
                                                      mail_base):
    vmm = runner(tmp_path, pg, db, mail_base, domain={
        'quota_bytes': '10M', 'quota_messages': '100', 'imap': 'false',
        'sieve': 'false', 'transport': 'smtp:[relay.example]',
        'directory_mode': '488'})
    assert_ok(vmm('da', 'example.org', '-n', 'our customer'))
    assert domain_settings(db, 'example.org') == (
        'smtp:[relay.example]', 10 * 1024 ** 2, 100, True, True, False,
        False, 'our customer')
    gid, directory = domain_row(db, 'example.org')
    check_domain_directory(mail_base, gid, directory, 0o750)
    assert_ok(vmm('domainadd', 'example.net', '--transport', 'lmtp:',
                  '--note', 'x'))
    assert domain_settings(db, 'example.net')[0] == 'lmtp:'
    assert db.lookup('postfix_transport_map', 'anyone', 'example.net') == \
        [('anyone@example.net', 'lmtp:')]


def test_domainadd_idn_stored_as_ace(vmm, db):
    assert_ok(vmm('da', 'Bücher.Example'))
    assert domain_row(db, IDN_ACE) is not None
    result = vmm('di', IDN_ACE)
    assert 'bücher.example' in result.out
    assert IDN_ACE not in result.out.split('Domain directory')[0]


def test_domainadd_auto_postmaster_password_from_stdin(tmp_path, pg, db,
                                                       mail_base):
    vmm = runner(tmp_path, pg, db, mail_base,
                 domain={'auto_postmaster': 'true'})
    assert_ok(vmm('da', 'example.org', input='pm-secret\n'))
    uid, gid, home = account_row(db, 'postmaster@example.org')
    passwd = db.scalar("SELECT passwd FROM users WHERE uid = %s", (uid,))
    assert passwd.startswith('{SHA512-CRYPT}$6$')
    assert sha512_crypt.verify('pm-secret', passwd[len('{SHA512-CRYPT}'):])
    check_maildir(home, uid, gid)


def test_domainadd_auto_postmaster_random_password(tmp_path, pg, db,
                                                   mail_base):
    vmm = runner(tmp_path, pg, db, mail_base,
                 domain={'auto_postmaster': 'true'},
                 account={'random_password': 'true',
                          'password_length': '12'})
    result = assert_ok(vmm('da', 'example.org'))
    match = re.search(r'postmaster@example\.org: (\S+)$', result.out, re.M)
    password = match.group(1)
    assert len(password) == 12
    passwd = db.scalar("SELECT passwd FROM users WHERE local_part = "
                       "'postmaster'")
    assert sha512_crypt.verify(password, passwd[len('{SHA512-CRYPT}'):])


def test_domainadd_auto_postmaster_without_password_changes_nothing(
        tmp_path, pg, db, mail_base, snapshot):
    vmm = runner(tmp_path, pg, db, mail_base,
                 domain={'auto_postmaster': 'true'})
    fails_cleanly(vmm, snapshot, 69, 'da', 'example.org', input='')
    assert domain_row(db, 'example.org') is None


def test_domainadd_failures(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('rla', 'relay.example'))
    check = Unchanged(vmm, snapshot)
    check(38, 'da', 'example.org')
    check(38, 'domainadd', 'EXAMPLE.ORG')
    check(37, 'da', 'example.net')
    check(38, 'da', 'relay.example')
    check(39, 'da', 'exa mple.org')
    check(40, 'da', '')
    check(44, 'da', 'new.example', '-t', 'bad one')
    check(2, 'da')


def test_domainadd_idn_twice_is_38(vmm, snapshot):
    assert_ok(vmm('da', IDN))
    check = Unchanged(vmm, snapshot)
    check(38, 'da', IDN_ACE)
    check(38, 'da', 'BÜCHER.example')


# -- domaindelete ---------------------------------------------------------

@pytest.mark.parametrize('content', [
    ('ua', 'jane@example.org', '-p', 'pw'),
    ('aa', 'info@example.org', 'someone@example.com'),
    ('ra', 'old@example.org', 'new@example.com'),
    ('caa', 'example.org', 'someone@example.com'),
])
def test_domaindelete_refuses_without_force(vmm, snapshot, content):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm(*content))
    check = Unchanged(vmm, snapshot)
    result = check(20, 'domaindelete', 'example.org')
    assert '--force' in result.err
    check(20, 'dd', 'example.org', '--delete-directory')


def test_domaindelete_empty_domain_keeps_directory(vmm, db):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('da', 'example.com'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    gid, directory = domain_row(db, 'example.org')
    assert_ok(vmm('domaindelete', 'example.org'))
    assert db.query('SELECT domainname FROM domain_name') == \
        [('example.com',)]
    assert db.query('SELECT gid FROM domain_data') == \
        [(domain_row(db, 'example.com')[0],)]
    assert os.path.isdir(directory)     # no --delete-directory
    assert_ok(vmm('dd', 'example.com'))
    assert db.query('SELECT * FROM domain_data') == []


def test_domaindelete_force_removes_everything(vmm, db, mail_base):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('da', 'other.example'))
    assert_ok(vmm('ua', 'keep@other.example', '-p', 'pw'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('ada', 'example.com', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('aa', 'info@example.org', 'jane@example.org'))
    assert_ok(vmm('ra', 'old@example.org', 'jane@example.org'))
    assert_ok(vmm('caa', 'example.org', 'jane@example.org'))
    gid, directory = domain_row(db, 'example.org')
    assert_ok(vmm('dd', 'example.org', '--force', '--delete-directory'))
    for table in ('users', 'alias', 'relocated', 'catchall', 'domain_name',
                  'domain_data'):
        assert db.query('SELECT * FROM %s WHERE gid = %%s' % table,
                        (gid,)) == []
    assert db.query("SELECT domainname FROM domain_name") == \
        [('other.example',)]
    assert not os.path.exists(directory)
    assert account_row(db, 'keep@other.example') is not None
    # the hex directory and the other domain are still there
    other_gid, other_dir = domain_row(db, 'other.example')
    assert os.path.isdir(other_dir)
    assert db.lookup('postfix_virtual_alias_map', 'info', 'example.net') \
        == []


def test_domaindelete_force_deletion_and_delete_directory_config(
        tmp_path, pg, db, mail_base):
    vmm = runner(tmp_path, pg, db, mail_base,
                 domain={'force_deletion': 'true',
                         'delete_directory': 'true'})
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    gid, directory = domain_row(db, 'example.org')
    assert_ok(vmm('dd', 'example.org'))
    assert domain_row(db, 'example.org') is None
    assert not os.path.exists(directory)


def test_domaindelete_directory_removed_only_after_commit(vmm, db,
                                                          config_file):
    """The directory stays where it is during the transaction and after
    a rollback; only the commit deletes it."""
    from vmm.handler import Handler
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    gid, directory = domain_row(db, 'example.org')
    before = sorted(os.walk(directory))
    handler = Handler(config_file)
    try:
        handler.domain_delete('example.org', delete_directory=True,
                              force=True)
        assert sorted(os.walk(directory)) == before
        handler.rollback()
    finally:
        handler.close()
    assert sorted(os.walk(directory)) == before
    assert domain_row(db, 'example.org') == (gid, directory)
    handler = Handler(config_file)
    try:
        handler.domain_delete('example.org', delete_directory=True,
                              force=True)
        handler.commit()
    finally:
        handler.close()
    assert not os.path.exists(directory)
    assert not os.path.exists(os.path.dirname(directory))   # hex dir too


def test_domaindelete_missing(vmm, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    check = Unchanged(vmm, snapshot)
    check(57, 'dd', 'nowhere.example')
    # an alias domain is not deleted with domaindelete
    check(57, 'dd', 'example.net', '--force')


# -- domaininfo -----------------------------------------------------------

def test_domaininfo(vmm, db):
    assert_ok(vmm('da', 'example.org', '-n', 'a note'))
    assert_ok(vmm('ada', IDN, 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('aa', 'info@example.org', 'jane@example.org'))
    assert_ok(vmm('ra', 'old@example.org', 'jane@example.org'))
    assert_ok(vmm('caa', 'example.org', 'jane@example.org'))
    gid, directory = domain_row(db, 'example.org')
    out = assert_ok(vmm('domaininfo', 'example.org')).out
    lines = out.splitlines()
    assert lines[0] == 'Domain information'
    assert set(lines[1]) == {'-'}
    fields = dict(re.match(r'\t(.*?)\.*: (.*)$', line).groups()
                  for line in lines[2:] if line.startswith('\t'))
    assert fields['Domain name'] == 'example.org'
    assert fields['GID'] == str(gid)
    assert fields['Domain directory'] == directory
    assert fields['Transport'] == 'lmtp:unix:private/dovecot-lmtp'
    assert fields['Accounts'] == '1 / unlimited'
    assert fields['Aliases'] == '2 / unlimited'   # catch-all counts as one
    assert fields['Alias domains'] == '1 / unlimited'
    assert fields['Relocated'] == '1'
    assert fields['Note'] == 'a note'
    for detail, expected in [('accounts', 'jane@example.org'),
                             ('aliasdomains', IDN),
                             ('aliases', 'info@example.org'),
                             ('catchall', 'jane@example.org'),
                             ('relocated', 'old@example.org')]:
        out = assert_ok(vmm('di', 'example.org', '-d', detail)).out
        assert '\t%s\n' % expected in out, (detail, out)
    full = assert_ok(vmm('di', 'example.org', '--details', 'full')).out
    for expected in ('jane@example.org', IDN, 'info@example.org',
                     'old@example.org'):
        assert '\t%s\n' % expected in full


def test_domaininfo_failures(vmm, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    check = Unchanged(vmm, snapshot)
    check(57, 'di', 'nowhere.example')
    result = check(57, 'di', 'example.net')
    assert 'example.org' in result.err      # the hint names the primary
    check(2, 'di', 'example.org', '-d', 'bogus')


# -- domainquota / domainservices / domaintransport -----------------------

def test_domainquota_inheritance(vmm, db):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'own@example.org', '-p', 'pw'))
    assert_ok(vmm('ua', 'inherit@example.org', '-p', 'pw'))
    assert_ok(vmm('uq', 'own@example.org', '5M', '-m', '50'))
    assert_ok(vmm('domainquota', 'example.org', '1G', '-m', '1000'))
    assert domain_settings(db, 'example.org')[1:3] == (1024 ** 3, 1000)
    quota = {row[0]: row[5] for row in
             [db.lookup('dovecotquotauser', local, 'example.org')[0]
              for local in ('own', 'inherit')]}
    assert quota == {'own@example.org': '*:bytes=5242880:messages=50',
                     'inherit@example.org':
                     '*:bytes=1073741824:messages=1000'}
    assert 'Storage: 5M; Messages: 50\n' in vmm('ui', 'own@example.org').out
    assert 'Storage: 1G; Messages: 1000 [domain default]' in \
        vmm('ui', 'inherit@example.org').out
    result = assert_ok(vmm('dq', 'example.org', '2G', '--force'))
    assert '1 account' in result.out
    assert account_overrides(db, 'own@example.org')[1] is None
    assert db.lookup('dovecotquotauser', 'own', 'example.org')[0][5] == \
        '*:bytes=2147483648:messages=0'


def test_domainservices_inheritance(vmm, db):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'own@example.org', '-p', 'pw'))
    assert_ok(vmm('ua', 'inherit@example.org', '-p', 'pw'))
    assert_ok(vmm('us', 'own@example.org', '-d', 'smtp'))
    assert_ok(vmm('domainservices', 'example.org', '-d', 'pop3', 'imap'))
    assert domain_settings(db, 'example.org')[3:7] == (True, False, False,
                                                       True)

    def flags(local):
        return db.lookup('dovecotpassword', local, 'example.org')[0][2:]
    # (smtp, pop3, imap, sieve)
    assert flags('own') == (False, True, True, True)
    assert flags('inherit') == (True, False, False, True)
    assert 'SMTP SIEVE [domain default]' in \
        vmm('ui', 'inherit@example.org').out
    assert_ok(vmm('ds', 'example.org', '--enable', 'imap', '--force'))
    assert flags('own') == (True, False, True, True)
    assert account_overrides(db, 'own@example.org')[2] is None


def test_domaintransport_inheritance(vmm, db):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'own@example.org', '-p', 'pw'))
    assert_ok(vmm('ua', 'inherit@example.org', '-p', 'pw'))
    assert_ok(vmm('ut', 'own@example.org', 'smtp:[mx.example]'))
    assert_ok(vmm('domaintransport', 'example.org', 'lmtp:inet:127.0.0.1:24'))

    def transport(local):
        return db.lookup('postfix_transport_map', local, 'example.org')

    assert transport('own') == [('own@example.org', 'smtp:[mx.example]')]
    assert transport('inherit') == [('inherit@example.org',
                                     'lmtp:inet:127.0.0.1:24')]
    assert transport('unknown') == [('unknown@example.org',
                                     'lmtp:inet:127.0.0.1:24')]
    result = assert_ok(vmm('dt', 'example.org', 'lmtp:', '--force'))
    assert '1 account' in result.out
    assert transport('own') == [('own@example.org', 'lmtp:')]


def test_domain_defaults_failures(vmm, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    check = Unchanged(vmm, snapshot)
    check(57, 'dq', 'nowhere.example', '1G')
    check(57, 'dq', 'example.net', '1G')
    check(44, 'dq', 'example.org', '1T')
    check(44, 'dq', 'example.org', '1G', '-m', 'x')
    check(57, 'ds', 'nowhere.example', '-e', 'imap')
    check(65, 'ds', 'example.org', '-e', 'ftp')
    check(65, 'ds', 'example.org', '-d', 'imap', 'nntp')
    check(2, 'ds', 'example.org')
    check(57, 'dt', 'nowhere.example', 'smtp:')
    check(44, 'dt', 'example.org', 'smtp: x')


# -- domainnote -------------------------------------------------------------

def test_domainnote(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('domainnote', 'example.org', '-n', 'Kunde seit 2001 – ✓'))
    assert domain_settings(db, 'example.org')[7] == 'Kunde seit 2001 – ✓'
    assert 'Kunde seit 2001 – ✓' in vmm('di', 'example.org').out
    assert_ok(vmm('do', 'example.org', '-d'))
    assert domain_settings(db, 'example.org')[7] is None
    assert_ok(vmm('do', 'example.org', '--note', 'line one\nline two'))
    assert domain_settings(db, 'example.org')[7] == 'line one\nline two'
    cmd = 'do'
    check = Unchanged(vmm, snapshot)
    check(57, cmd, 'nowhere.example', '-n', 'x')
    check(2, cmd, 'example.org')
    check(2, cmd, 'example.org', '-d', '-n', 'x')


# -- alias domains ----------------------------------------------------------

def test_aliasdomainadd(vmm, db):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('aa', 'info@example.org', '%n.team@example.org'))
    assert_ok(vmm('aliasdomainadd', IDN, 'example.org'))
    assert_ok(vmm('ada', 'EXAMPLE.NET', 'Example.Org'))
    gid = domain_row(db, 'example.org')[0]
    assert db.query('SELECT gid, is_primary FROM domain_name WHERE '
                    'domainname = %s', (IDN_ACE,)) == [(gid, False)]
    # everything of the domain exists under its alias domain as well
    uid, _gid, home = account_row(db, 'jane@example.org')
    assert db.lookup('postfix_virtual_uid_map', 'jane', IDN_ACE) == \
        [('jane@' + IDN_ACE, uid)]
    assert db.lookup('postfix_virtual_alias_map', 'info', IDN_ACE) == \
        [('info@' + IDN_ACE, 'info.team@example.org')]
    assert db.lookup('dovecotuser', 'jane', IDN_ACE)[0][3] == home
    assert db.lookup('postfix_virtual_mailbox_map', 'jane', 'example.net') \
        == [('jane@example.net', home + '/Maildir/')]


def test_aliasdomainadd_failures(vmm, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('da', 'other.example'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('rla', 'relay.example'))
    check = Unchanged(vmm, snapshot)
    check(23, 'ada', 'example.net', 'example.org')
    check(23, 'ada', 'example.net', 'other.example')
    check(24, 'ada', 'other.example', 'example.org')
    check(24, 'ada', 'example.org', 'example.org')
    check(25, 'ada', 'new.example', 'nowhere.example')
    check(25, 'ada', 'new.example', 'example.net')
    check(25, 'ada', 'new.example', 'relay.example')
    check(38, 'ada', 'relay.example', 'example.org')
    check(39, 'ada', 'bad_name.example', 'example.org')


def test_aliasdomaindelete(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('ada', 'example.com', 'example.org'))
    assert_ok(vmm('aliasdomaindelete', 'example.com'))
    assert_ok(vmm('add', 'example.net'))
    cmd = 'add'
    assert db.query('SELECT domainname FROM domain_name') == \
        [('example.org',)]
    assert db.lookup('postfix_virtual_uid_map', 'jane', 'example.net') == []
    assert account_row(db, 'jane@example.org') is not None
    check = Unchanged(vmm, snapshot)
    check(54, cmd, 'example.net')
    check(24, cmd, 'example.org')


def test_aliasdomaininfo(vmm, snapshot):
    assert_ok(vmm('da', IDN))
    assert_ok(vmm('ada', 'example.net', IDN_ACE))
    out = assert_ok(vmm('aliasdomaininfo', 'example.net')).out
    assert re.search(r'Primary domain\.*: bücher\.example$', out, re.M)
    out = assert_ok(vmm('adi', 'Example.Net')).out
    assert re.search(r'Alias domain\.*: example\.net$', out, re.M)
    cmd = 'adi'
    check = Unchanged(vmm, snapshot)
    check(54, cmd, 'nowhere.example')
    check(24, cmd, IDN)


def test_aliasdomainswitch(vmm, db, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('da', 'other.example'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('aliasdomainswitch', 'example.net', 'other.example'))
    cmd = 'ads'
    assert db.scalar("SELECT gid FROM domain_name WHERE domainname = "
                     "'example.net'") == domain_row(db, 'other.example')[0]
    assert 'other.example' in vmm('adi', 'example.net').out
    # switching to where it already is: a warning, no change
    result = assert_ok(vmm(cmd, 'example.net', 'other.example'))
    assert result.err.startswith('Warning: ')
    check = Unchanged(vmm, snapshot)
    check(54, cmd, 'nowhere.example', 'example.org')
    check(25, cmd, 'example.net', 'nowhere.example')
    check(24, cmd, 'example.org', 'other.example')


def test_aliasdomain_address_is_refused_with_hint(vmm, snapshot):
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    for args in (('ua', 'jane@example.net', '-p', 'pw'),
                 ('aa', 'info@example.net', 'x@example.com'),
                 ('ra', 'old@example.net', 'x@example.com')):
        result = fails_cleanly(vmm, snapshot, 37, *args)
        assert '@example.org' in result.err
