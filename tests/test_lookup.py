"""The lookup interface (vmm(1) LOOKUP INTERFACE), on data built with vmm:
what Postfix and Dovecot will be told for primary and alias domains,
placeholders, catch-alls, inheritance and overrides, unknown names."""

import pytest


@pytest.fixture
def data(vmm, db):
    """example.org (alias domains example.net, bücher.example), other.org."""
    def ok(*args):
        result = vmm(*args)
        assert result.code == 0, (args, result.err)
    ok('da', 'example.org')
    ok('ada', 'example.net', 'example.org')
    ok('ada', 'bücher.example', 'example.org')
    ok('da', 'other.org', '-t', 'smtp:[relay.other.org]')
    ok('ua', 'jane@example.org', '-p', 'secret')
    ok('ua', 'joe@example.org', '-p', 'secret')
    ok('ua', 'bob@other.org', '-p', 'secret')
    ok('aa', 'team@example.org', 'jane@example.org', 'joe@example.org')
    ok('aa', 'fwd@example.org', '%n@other.org', 'copy-%d@other.org',
       '%=@other.org')
    ok('ra', 'gone@example.org', 'jane@other.org')
    ok('caa', 'other.org', 'bob@other.org')
    ok('aa', 'list@other.org', 'joe@example.org')
    ok('ra', 'moved@other.org', 'x@example.com')
    return db


ACE = 'xn--bcher-kva.example'


def test_alias_map_primary_and_alias_domains(data):
    for domain in ('example.org', 'example.net', ACE):
        rows = data.lookup('postfix_virtual_alias_map', 'team', domain)
        assert sorted(rows) == [('team@' + domain, 'jane@example.org'),
                                ('team@' + domain, 'joe@example.org')]


@pytest.mark.parametrize('domain', ['example.org', 'example.net', ACE])
def test_alias_placeholders_use_the_queried_names(data, domain):
    rows = data.lookup('postfix_virtual_alias_map', 'fwd', domain)
    assert sorted(r[1] for r in rows) == sorted([
        'fwd@other.org', 'copy-%s@other.org' % domain,
        'fwd=%s@other.org' % domain])


def test_catchall_loses_to_account_alias_and_relocated(data):
    lookup = data.lookup
    assert lookup('postfix_virtual_alias_map', 'nobody', 'other.org') == \
        [('nobody@other.org', 'bob@other.org')]
    # an account answers with itself, so Postfix delivers to it
    assert lookup('postfix_virtual_alias_map', 'bob', 'other.org') == \
        [('bob@other.org', 'bob@other.org')]
    # a relocated user gets no answer at all, not the catch-all's: Postfix
    # then refuses it at RCPT TO with its new address (relocated_maps)
    assert lookup('postfix_virtual_alias_map', 'moved', 'other.org') == []
    assert lookup('postfix_relocated_map', 'moved', 'other.org') == \
        [('moved@other.org', 'x@example.com')]
    assert lookup('postfix_virtual_alias_map', 'list', 'other.org') == \
        [('list@other.org', 'joe@example.org')]


def test_alias_map_unknowns(data):
    assert data.lookup('postfix_virtual_alias_map', 'nobody',
                       'example.org') == []
    assert data.lookup('postfix_virtual_alias_map', 'team',
                       'unknown.example') == []
    assert data.lookup('postfix_virtual_alias_map', 'jane',
                       'example.org') == []


def test_mailbox_and_uid_maps(data):
    uid, home = data.query("SELECT uid, domaindir || '/' || uid FROM users "
                           "JOIN domain_data USING (gid) WHERE local_part = "
                           "'jane'")[0]
    for domain in ('example.org', 'example.net'):
        assert data.lookup('postfix_virtual_mailbox_map', 'jane', domain) \
            == [('jane@' + domain, home + '/Maildir/')]
        assert data.lookup('postfix_virtual_uid_map', 'jane', domain) == \
            [('jane@' + domain, uid)]
    for fn in ('postfix_virtual_mailbox_map', 'postfix_virtual_uid_map'):
        assert data.lookup(fn, 'team', 'example.org') == []
        assert data.lookup(fn, 'jane', 'other.org') == []
        assert data.lookup(fn, 'jane', 'unknown.example') == []


def test_gid_view_includes_alias_domains(data):
    gid = data.scalar("SELECT gid FROM domain_name WHERE domainname = "
                      "'example.org'")
    rows = data.query('SELECT domainname FROM postfix_gid WHERE gid = %s '
                      'ORDER BY 1', (gid,))
    assert [r[0] for r in rows] == ['example.net', 'example.org', ACE]


def test_transport_inheritance_and_override(vmm, data):
    lookup = data.lookup
    default = 'lmtp:unix:private/dovecot-lmtp'
    assert lookup('postfix_transport_map', 'jane', 'example.org') == \
        [('jane@example.org', default)]
    assert lookup('postfix_transport_map', 'nobody', 'example.net') == \
        [('nobody@example.net', default)]
    assert lookup('postfix_transport_map', 'bob', 'other.org') == \
        [('bob@other.org', 'smtp:[relay.other.org]')]
    assert vmm('ut', 'jane@example.org', 'smtp:[mx.example.org]').code == 0
    assert lookup('postfix_transport_map', 'jane', 'example.net') == \
        [('jane@example.net', 'smtp:[mx.example.org]')]
    assert vmm('dt', 'example.org', 'lmtp:inet:127.0.0.1:24').code == 0
    assert lookup('postfix_transport_map', 'jane', 'example.org')[0][1] == \
        'smtp:[mx.example.org]'
    assert lookup('postfix_transport_map', 'joe', 'example.org')[0][1] == \
        'lmtp:inet:127.0.0.1:24'
    assert vmm('dt', 'example.org', 'lmtp:inet:127.0.0.1:25',
               '--force').code == 0
    assert lookup('postfix_transport_map', 'jane', 'example.org')[0][1] == \
        'lmtp:inet:127.0.0.1:25'
    assert lookup('postfix_transport_map', 'jane', 'unknown.example') == []


def test_relocated_map(data):
    for domain in ('example.org', 'example.net'):
        assert data.lookup('postfix_relocated_map', 'gone', domain) == \
            [('gone@' + domain, 'jane@other.org')]
    assert data.lookup('postfix_relocated_map', 'jane', 'example.org') == []


def test_sender_login_map(data):
    rows = data.lookup('postfix_smtpd_sender_login_map', 'jane',
                       'example.net')
    assert sorted(r[1] for r in rows) == ['jane@example.net',
                                          'jane@example.org', 'jane@' + ACE]
    assert all(r[0] == 'jane@example.net' for r in rows)
    rows = data.lookup('postfix_smtpd_sender_login_map', 'team',
                       'example.org')
    assert sorted(r[1] for r in rows) == ['jane@example.org',
                                          'joe@example.org']
    assert data.lookup('postfix_smtpd_sender_login_map', 'nobody',
                       'example.org') == []


def test_dovecot_password_services(vmm, data):
    rows = data.lookup('dovecotpassword', 'jane', 'example.net')
    assert len(rows) == 1
    userid, password, smtp, pop3, imap, sieve = rows[0]
    assert userid == 'jane@example.net'
    assert password.startswith('{SHA512-CRYPT}$6$')
    assert (smtp, pop3, imap, sieve) == (True, True, True, True)
    assert vmm('ds', 'example.org', '-d', 'pop3').code == 0
    assert vmm('us', 'joe@example.org', '-d', 'imap').code == 0
    assert data.lookup('dovecotpassword', 'jane', 'example.org')[0][2:] == \
        (True, False, True, True)
    assert data.lookup('dovecotpassword', 'joe', 'example.org')[0][2:] == \
        (True, False, False, True)
    assert vmm('us', 'joe@example.org', '-r').code == 0
    assert data.lookup('dovecotpassword', 'joe', 'example.org')[0][2:] == \
        (True, False, True, True)
    # WHERE %Ls as Dovecot writes it
    assert data.query("SELECT userid FROM dovecotpassword('jane', "
                      "'example.org') WHERE pop3") == []
    assert data.lookup('dovecotpassword', 'team', 'example.org') == []


def test_dovecot_user_and_quota(vmm, data):
    uid, gid, home = data.query(
        "SELECT uid, gid, domaindir || '/' || uid FROM users JOIN "
        "domain_data USING (gid) WHERE local_part = 'jane'")[0]
    assert data.lookup('dovecotuser', 'jane', 'example.net') == \
        [('jane@example.net', uid, gid, home, 'maildir:~/Maildir')]
    assert data.lookup('dovecotquotauser', 'jane', 'example.org')[0][5] == \
        '*:bytes=0:messages=0'
    assert vmm('dq', 'example.org', '100M', '-m', '500').code == 0
    assert vmm('uq', 'joe@example.org', '1G').code == 0
    assert data.lookup('dovecotquotauser', 'jane', 'example.org')[0][5] == \
        '*:bytes=104857600:messages=500'
    assert data.lookup('dovecotquotauser', 'joe', 'example.org')[0][5] == \
        '*:bytes=1073741824:messages=0'
    assert vmm('uq', 'joe@example.org', 'domain').code == 0
    assert data.lookup('dovecotquotauser', 'joe', 'example.org')[0][5] == \
        '*:bytes=104857600:messages=500'
    assert data.lookup('dovecotuser', 'team', 'example.org') == []
    assert data.lookup('dovecotuser', 'jane', 'unknown.example') == []


def test_userquota_dict_merges_inserts(data):
    uid = data.scalar("SELECT uid FROM users WHERE local_part = 'jane'")
    for _ in range(2):
        data.query('INSERT INTO userquota (uid, bytes, messages) '
                   'VALUES (%s, 100, 2)', (uid,))
    assert data.query('SELECT bytes, messages FROM userquota WHERE uid = %s',
                      (uid,)) == [(200, 4)]
