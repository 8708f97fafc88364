"""Postfix and Dovecot end to end: real mail in, real IMAP out.

A private Postfix and Dovecot (tests/servers.py, started once per session
by the ``mailservers`` fixture of tests/mailservers.py) run from the files
vmm ships in pgsql/postfix and pgsql/dovecot and read the test database.
Every test sets its data up with vmm commands only and then looks at what
the servers do with it.  Nothing here skips: without Postfix or Dovecot the
fixture fails.
"""

import email
import email.policy
import json
import os
import smtplib

import pytest

import servers
from cli_helpers import assert_ok as ok
from conftest import Runner, write_config

pytestmark = pytest.mark.servers


# conftest's vmm/config_file/snapshot fixtures work on the servers' database.

@pytest.fixture
def db(mail_db):
    return mail_db


@pytest.fixture
def mail(mailservers):
    return mailservers


def maildir(db, address):
    """The account's Maildir as Postfix's mailbox lookup answers it."""
    local, domain = address.split('@')
    rows = db.lookup('postfix_virtual_mailbox_map', local, domain)
    assert rows, 'no mailbox for %s' % address
    return rows[0][1]


def uid_of(db, address):
    local, domain = address.split('@')
    return db.lookup('postfix_virtual_uid_map', local, domain)[0][1]


def read(path):
    with open(path, 'rb') as handle:
        return email.message_from_binary_file(handle,
                                              policy=email.policy.default)


def subjects(path):
    return sorted(str(read(p)['Subject'])
                  for p in servers.maildir_messages(path))


def deliver(mail, recipients, subject, **kwargs):
    """Send one message (from a new outside address unless *sender* is
    given); wait until Postfix is done with it; its delivery log entries."""
    sender = kwargs.pop('sender', None) or mail.postfix.stranger()
    qid = mail.postfix.smtp_send(sender, recipients, subject=subject,
                                 **kwargs)
    return mail.postfix.delivery_status(qid)


# -- delivery --------------------------------------------------------------


def test_delivery_to_account_and_under_alias_domain(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    box = maildir(db, 'a@example.org')
    assert os.path.isdir(os.path.join(box, 'new')), 'useradd made no Maildir'
    uid = uid_of(db, 'a@example.org')
    assert os.stat(box).st_uid == uid

    status = deliver(mail, 'a@example.org', 'to the account')
    assert [s['status'] for s in status] == ['sent'], status
    assert 'dovecot-lmtp' in status[0]['relay']
    status = deliver(mail, 'A@Example.NET', 'under the alias domain')
    assert [s['status'] for s in status] == ['sent'], status

    files = servers.wait_for_delivery(box, 2)
    assert subjects(box) == ['to the account', 'under the alias domain']
    for path in files:
        assert os.stat(path).st_uid == uid
    delivered_to = sorted(str(read(p)['Delivered-To']).lower() for p in files)
    assert delivered_to == ['a@example.net', 'a@example.org']


def test_alias_with_several_destinations(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    ok(vmm('ua', 'b@example.org', '-p', 'secret'))
    ok(vmm('aa', 'team@example.org', 'a@example.org', 'b@example.org'))

    status = deliver(mail, 'team@example.org', 'to the team')
    assert sorted((s['to'], s['orig_to'], s['status']) for s in status) == [
        ('a@example.org', 'team@example.org', 'sent'),
        ('b@example.org', 'team@example.org', 'sent')]
    for address in ('a@example.org', 'b@example.org'):
        servers.wait_for_delivery(maildir(db, address))
        assert subjects(maildir(db, address)) == ['to the team']


def test_alias_placeholder_filled_with_the_alias_domain(vmm, db, mail):
    # info@ goes to a mailbox named after the domain it was sent to: %d is
    # the domain as queried, the alias domain's name under the alias domain.
    ok(vmm('da', 'example.org'))
    ok(vmm('da', 'example.com'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ua', 'example.org@example.com', '-p', 'secret'))
    ok(vmm('ua', 'example.net@example.com', '-p', 'secret'))
    ok(vmm('aa', 'info@example.org', '%d@example.com'))

    status = deliver(mail, 'info@example.net', 'via the alias domain')
    assert [(s['to'], s['status']) for s in status] == [
        ('example.net@example.com', 'sent')], status
    status = deliver(mail, 'info@example.org', 'via the primary domain')
    assert [(s['to'], s['status']) for s in status] == [
        ('example.org@example.com', 'sent')], status

    assert subjects(maildir(db, 'example.net@example.com')) == [
        'via the alias domain']
    assert subjects(maildir(db, 'example.org@example.com')) == [
        'via the primary domain']


def test_catchall_and_account_winning_over_it(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    ok(vmm('ua', 'catch@example.org', '-p', 'secret'))
    ok(vmm('caa', 'example.org', 'catch@example.org'))

    status = deliver(mail, 'nobody@example.org', 'unknown local part')
    assert [(s['to'], s['status']) for s in status] == [
        ('catch@example.org', 'sent')], status
    status = deliver(mail, 'nobody@example.net', 'unknown, alias domain')
    assert [(s['to'], s['status']) for s in status] == [
        ('catch@example.org', 'sent')], status
    status = deliver(mail, 'a@example.org', 'to the account')
    assert [(s['to'], s['status']) for s in status] == [
        ('a@example.org', 'sent')], status

    assert subjects(maildir(db, 'catch@example.org')) == [
        'unknown local part', 'unknown, alias domain']
    assert subjects(maildir(db, 'a@example.org')) == ['to the account']


# -- refused at RCPT TO ----------------------------------------------------


def test_unknown_and_relocated_users_refused_at_rcpt(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    ok(vmm('ra', 'old@example.org', 'new@elsewhere.test'))

    rcpt = mail.postfix.rcpt_check
    code, reply = rcpt(mail.postfix.stranger(), 'nobody@example.org')
    assert code == 550 and 'User unknown' in reply, reply
    for address in ('old@example.org', 'old@example.net'):
        code, reply = rcpt(mail.postfix.stranger(), address)
        assert code == 550 and 'new@elsewhere.test' in reply, reply
    ok(vmm('rd', 'old@example.org'))
    code, reply = rcpt(mail.postfix.stranger(), 'old@example.org')
    assert code == 550 and 'User unknown' in reply, reply

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail.postfix.smtp_send(mail.postfix.stranger(), 'nobody@example.org')
    assert refused.value.recipients['nobody@example.org'][0] == 550
    assert servers.maildir_messages(maildir(db, 'a@example.org')) == []


def test_relocated_user_in_catchall_domain_refused_at_rcpt(vmm, db, mail):
    """With a catch-all, a relocated user is still refused at RCPT TO with
    the new address, under the primary and every alias domain, instead of
    being accepted and bounced to the (possibly forged) sender."""
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ada', 'example.info', 'example.org'))
    ok(vmm('ua', 'catch@example.org', '-p', 'secret'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    ok(vmm('caa', 'example.org', 'catch@example.org'))
    ok(vmm('ra', 'old@example.org', 'new@elsewhere.test'))

    rcpt = mail.postfix.rcpt_check
    for address in ('old@example.org', 'old@example.net',
                    'OLD@example.info'):
        code, reply = rcpt(mail.postfix.stranger(), address)
        assert code == 550 and '5.1.6' in reply \
            and 'new@elsewhere.test' in reply, (address, reply)
    for address in ('nobody@example.org', 'nobody@example.info',
                    'a@example.net'):
        code, reply = rcpt(mail.postfix.stranger(), address)
        assert code == 250, (address, reply)

    status = deliver(mail, ['nobody@example.net', 'a@example.org'],
                     'unknown and account')
    assert sorted((s['to'], s['status']) for s in status) == [
        ('a@example.org', 'sent'), ('catch@example.org', 'sent')], status
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mail.postfix.smtp_send(mail.postfix.stranger(), 'old@example.net')
    assert subjects(maildir(db, 'catch@example.org')) == [
        'unknown and account']
    assert mail.postfix.queue() == []


# -- logins ----------------------------------------------------------------


def test_imap_login_with_vmm_password_and_another_scheme(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    deliver(mail, 'a@example.org', 'hello imap')

    conn = mail.dovecot.imap_login('a@example.org', 'secret')
    try:
        typ, data = conn.select('INBOX')
        assert typ == 'OK' and data == [b'1']
        typ, data = conn.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
        assert b'hello imap' in data[0][1]
    finally:
        conn.logout()
    assert mail.dovecot.can_login('imap', 'a@example.net', 'secret')
    assert not mail.dovecot.can_login('imap', 'a@example.org', 'wrong')
    assert not mail.dovecot.can_login('imap', 'b@example.org', 'secret')

    ok(vmm('up', 'a@example.org', '-p', 'other', '-s', 'SSHA512'))
    hashed = db.lookup('dovecotpassword', 'a', 'example.org')[0][1]
    assert hashed.startswith('{SSHA512}'), hashed
    assert mail.dovecot.can_login('imap', 'a@example.org', 'other')
    assert not mail.dovecot.can_login('imap', 'a@example.org', 'secret')
    assert mail.dovecot.can_login('pop3', 'a@example.org', 'other')
    assert mail.postfix.can_login('a@example.org', 'other')

    # Dovecot's userdb answers what the lookup function does.
    out = mail.dovecot.doveadm('user', 'a@example.org').stdout
    fields = dict(line.split('\t', 1) for line in out.splitlines()[1:])
    row = db.lookup('dovecotquotauser', 'a', 'example.org')[0]
    assert fields['uid'] == str(row[1]) and fields['gid'] == str(row[2])
    assert fields['home'] == row[3] and fields['mail'] == row[4]
    assert fields['quota_rule'] == row[5]


def test_userservices_disable_imap_keeps_pop3(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    for protocol in ('imap', 'pop3', 'sieve'):
        assert mail.dovecot.can_login(protocol, 'a@example.org', 'secret')

    ok(vmm('us', 'a@example.org', '-d', 'imap'))
    assert not mail.dovecot.can_login('imap', 'a@example.org', 'secret')
    assert mail.dovecot.can_login('pop3', 'a@example.org', 'secret')
    assert mail.dovecot.can_login('sieve', 'a@example.org', 'secret')
    assert mail.postfix.can_login('a@example.org', 'secret')

    ok(vmm('us', 'a@example.org', '-d', 'sieve'))
    assert not mail.dovecot.can_login('sieve', 'a@example.org', 'secret')
    ok(vmm('us', 'a@example.org', '-r'))
    assert mail.dovecot.can_login('imap', 'a@example.org', 'secret')
    assert mail.dovecot.can_login('sieve', 'a@example.org', 'secret')


def test_smtp_auth_refused_when_smtp_disabled(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    assert mail.postfix.can_login('a@example.org', 'secret')
    assert not mail.postfix.can_login('a@example.org', 'wrong')

    ok(vmm('us', 'a@example.org', '-d', 'smtp'))
    assert not mail.postfix.can_login('a@example.org', 'secret')
    assert mail.dovecot.can_login('imap', 'a@example.org', 'secret')
    assert not mail.dovecot.auth_test('a@example.org', 'secret', 'smtp')
    assert mail.dovecot.auth_test('a@example.org', 'secret', 'imap')

    ok(vmm('ds', 'example.org', '-d', 'smtp'))
    ok(vmm('us', 'a@example.org', '-r'))
    assert not mail.postfix.can_login('a@example.org', 'secret')
    ok(vmm('us', 'a@example.org', '-e', 'smtp'))
    assert mail.postfix.can_login('a@example.org', 'secret')


SERVICES = ('imap', 'pop3', 'submission', 'managesieve', 'smtp', 'sieve')


def auth_answers(mail, user, password):
    """`doveadm auth test` for each of SERVICES and without -x service=
    (None); auth_test raises on anything but success or refusal, such as
    the temporary failure an SQL error gives."""
    return {service: mail.dovecot.auth_test(user, password, service)
            for service in SERVICES + (None,)}


def test_doveadm_auth_test_for_every_service_name(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ua', 'all@example.org', '-p', 'secret'))
    ok(vmm('ua', 'nosmtp@example.org', '-p', 'secret'))
    ok(vmm('us', 'nosmtp@example.org', '-d', 'smtp'))
    ok(vmm('ua', 'noimap@example.org', '-p', 'secret'))
    ok(vmm('us', 'noimap@example.org', '-d', 'imap', 'sieve'))

    assert auth_answers(mail, 'all@example.org', 'secret') == dict.fromkeys(
        SERVICES + (None,), True)
    assert auth_answers(mail, 'nosmtp@example.org', 'secret') == {
        'imap': True, 'pop3': True, 'submission': False,
        'managesieve': True, 'smtp': False, 'sieve': True, None: True}
    assert auth_answers(mail, 'noimap@example.org', 'secret') == {
        'imap': False, 'pop3': True, 'submission': True,
        'managesieve': False, 'smtp': True, 'sieve': False, None: True}
    # A wrong password is refused everywhere, doveadm's own name included;
    # a service the query does not know is refused, not an SQL error.
    assert auth_answers(mail, 'all@example.org', 'wrong') == dict.fromkeys(
        SERVICES + (None,), False)
    for service in ('ftp', 'lmtp', "x'y"):
        assert not mail.dovecot.auth_test('all@example.org', 'secret',
                                          service), service


def test_smtp_auth_and_submission_follow_the_smtp_flag(vmm, db, mail):
    """Postfix's SMTP AUTH (through Dovecot's auth socket) and a login to
    Dovecot's submission service both obey the account's smtp service."""
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    assert os.path.exists(mail.postfix.auth_socket)
    for user in ('a@example.org', 'a@example.net'):
        assert mail.postfix.can_login(user, 'secret'), user
        assert mail.dovecot.can_login('submission', user, 'secret'), user
    assert not mail.dovecot.can_login('submission', 'a@example.org', 'wrong')

    ok(vmm('us', 'a@example.org', '-d', 'smtp'))
    assert not mail.postfix.can_login('a@example.org', 'secret')
    assert not mail.dovecot.can_login('submission', 'a@example.org',
                                      'secret')
    assert mail.dovecot.can_login('imap', 'a@example.org', 'secret')

    ok(vmm('us', 'a@example.org', '-r'))
    ok(vmm('ds', 'example.org', '-d', 'imap'))
    assert mail.postfix.can_login('a@example.org', 'secret')
    assert mail.dovecot.can_login('submission', 'a@example.org', 'secret')
    assert not mail.dovecot.can_login('imap', 'a@example.org', 'secret')


# -- quota -----------------------------------------------------------------


def test_quota_from_userquota_and_domainquota_enforced(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ua', 'q@example.org', '-p', 'secret'))
    box = maildir(db, 'q@example.org')

    ok(vmm('uq', 'q@example.org', '1k'))
    status = deliver(mail, 'q@example.org', 'too big', size=5000)
    assert [s['status'] for s in status] == ['bounced'], status
    assert '5.2.2' in status[0]['text'] and 'Quota' in status[0]['text']
    assert servers.maildir_messages(box) == []

    ok(vmm('uq', 'q@example.org', '1M'))
    status = deliver(mail, 'q@example.org', 'fits now', size=5000)
    assert [s['status'] for s in status] == ['sent'], status
    assert subjects(box) == ['fits now']

    # The domain's limit, inherited once the account's own is removed.
    ok(vmm('dq', 'example.org', '2k'))
    ok(vmm('uq', 'q@example.org', 'domain'))
    rule = db.lookup('dovecotquotauser', 'q', 'example.org')[0][5]
    assert rule == '*:bytes=2048:messages=0'
    status = deliver(mail, 'q@example.org', 'over the domain limit')
    assert [s['status'] for s in status] == ['bounced'], status
    assert 'Quota' in status[0]['text']
    assert subjects(box) == ['fits now']


def lmtp_deliver(mail, recipient, message):
    """Hand *message* (bytes) straight to Dovecot's LMTP socket."""
    with smtplib.LMTP(mail.dovecot.lmtp_socket) as lmtp:
        refused = lmtp.sendmail('someone@elsewhere.example', [recipient],
                                message)
    assert refused == {}, refused


def test_userinfo_shows_the_usage_dovecot_counts(vmm, db, mail, tmp_path,
                                                 mail_base):
    ok(vmm('da', 'example.org'))
    ok(vmm('ua', 'u@example.org', '-p', 'secret'))
    box = maildir(db, 'u@example.org')
    bodies = [b'a' * 5000, b'line\n' * 800, b'short']
    for number, body in enumerate(bodies):
        lmtp_deliver(mail, 'u@example.org', b'Subject: quota %d\r\n\r\n'
                     % number + body + b'\n')
    files = servers.wait_for_delivery(box, len(bodies))
    # The shipped quota counts virtual sizes (CRLF line ends); doveadm
    # tells them in KiB, rounded up.
    vsize = 0
    for path in files:
        with open(path, 'rb') as handle:
            data = handle.read()
        vsize += len(data) + data.count(b'\n') - data.count(b'\r\n')
    kib = (vsize + 1023) // 1024
    assert 10 <= kib < 1024
    answer = mail.dovecot.doveadm('quota', 'get', '-u',
                                  'u@example.org').stdout.split()
    assert answer[answer.index('STORAGE') + 1] == str(kib), answer
    assert answer[answer.index('MESSAGE') + 1] == '3', answer

    misc = {'dovecot_config': mail.dovecot.config_file}
    live = Runner(write_config(tmp_path / 'live.cfg', db.server, db.name,
                               mail_base, misc=misc))
    result = ok(live('userinfo', 'u@example.org'))
    assert result.err == ''
    assert '\tQuota usage.....: Storage: %dk; Messages: 3\n' % kib \
        in result.out, result
    result = ok(live('--json', 'userinfo', 'u@example.org'))
    assert json.loads(result.out)['account']['quota_usage'] == {
        'bytes': kib * 1024, 'messages': 3}

    # Without the option doveadm reads another file (the suite's vmm.cfg
    # names one that does not exist): no usage, and a warning why.
    result = ok(vmm('userinfo', 'u@example.org'))
    assert '\tQuota usage.....: unknown\n' in result.out, result
    assert '/nonexistent/dovecot.conf' in result.err, result


# -- who may send as whom ----------------------------------------------------


def test_sender_login_maps(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    ok(vmm('ua', 'b@example.org', '-p', 'secret'))
    ok(vmm('aa', 'sales@example.org', 'a@example.org'))
    login = {'login': 'a@example.org', 'password': 'secret'}

    for sender in ('a@example.org', 'a@example.net', 'sales@example.org'):
        code, reply = mail.postfix.rcpt_check(sender, 'b@example.org',
                                              **login)
        assert code == 250, (sender, reply)
    code, reply = mail.postfix.rcpt_check('a@example.org', 'b@example.org',
                                          login='a@example.net',
                                          password='secret')
    assert code == 250, reply
    for sender in ('b@example.org', 'b@example.net'):
        code, reply = mail.postfix.rcpt_check(sender, 'b@example.org',
                                              **login)
        assert code == 553 and 'not owned by user' in reply, (sender, reply)
    # Unauthenticated clients may not use a vmm address as sender at all.
    code, reply = mail.postfix.rcpt_check('a@example.org', 'b@example.org')
    assert code == 553 and 'not logged in' in reply, reply

    status = deliver(mail, 'b@example.org', 'sent as the twin',
                     sender='a@example.net', **login)
    assert [s['status'] for s in status] == ['sent'], status
    assert subjects(maildir(db, 'b@example.org')) == ['sent as the twin']
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mail.postfix.smtp_send('b@example.org', 'a@example.org', **login)


# -- Postfix's pgsql client and the lookup functions agree -------------------


def expected(db, mapname, key):
    """What the lookup interface answers for KEY, joined as Postfix does."""
    local, _, domain = key.rpartition('@')
    calls = {
        'virtual_mailbox_domains': (
            'SELECT gid FROM postfix_gid WHERE domainname = %s', (key,)),
        'virtual_gid_maps': (
            'SELECT gid FROM postfix_gid WHERE domainname = %s', (domain,)),
        'relay_domains': (
            'SELECT status FROM postfix_relay_domain_map(%s)', (key,)),
    }
    functions = {
        'virtual_mailbox_maps': ('postfix_virtual_mailbox_map', 'maildir'),
        'virtual_alias_maps': ('postfix_virtual_alias_map', 'destination'),
        'virtual_uid_maps': ('postfix_virtual_uid_map', 'uid'),
        'transport_maps': ('postfix_transport_map', 'transport'),
        'relocated_maps': ('postfix_relocated_map', 'destination'),
        'smtpd_sender_login_maps': ('postfix_smtpd_sender_login_map',
                                    'login'),
        'relay_recipient_maps': ('postfix_relay_recipient_map', 'status'),
    }
    if mapname in calls:
        sql, args = calls[mapname]
    else:
        function, column = functions[mapname]
        sql = 'SELECT %s FROM %s(%%s, %%s)' % (column, function)
        args = (local, domain)
    rows = db.query(sql, args, user='postfix')
    return sorted(str(row[0]) for row in rows) or None


def test_postmap_agrees_with_lookup_functions(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('da', 'example.com', '-t', 'smtp:[mx.example.com]'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    ok(vmm('ua', 'b@example.org', '-p', 'secret'))
    ok(vmm('ut', 'b@example.org', 'smtp:[other.example]:2525'))
    ok(vmm('ua', 'c@example.com', '-p', 'secret'))
    ok(vmm('aa', 'team@example.org', 'a@example.org', 'b@example.org',
           'x@elsewhere.test'))
    ok(vmm('aa', 'info@example.org', '%n+%d@example.com'))
    ok(vmm('caa', 'example.com', 'c@example.com', 'postmaster@%d'))
    ok(vmm('ra', 'old@example.org', 'new@elsewhere.test'))
    ok(vmm('ra', 'gone@example.com', 'new@elsewhere.test'))
    ok(vmm('rla', 'relay.test', '--recipient', 'x@relay.test',
           'y@relay.test'))
    ok(vmm('rla', 'open-relay.test'))

    domains = ['example.org', 'example.net', 'example.com', 'relay.test',
               'open-relay.test', 'unknown.test']
    addresses = ['a@example.org', 'a@example.net', 'b@example.org',
                 'c@example.com', 'team@example.org', 'team@example.net',
                 'info@example.org', 'info@example.net', 'nobody@example.org',
                 'nobody@example.com', 'old@example.org', 'old@example.net',
                 'gone@example.com', 'x@relay.test', 'z@relay.test',
                 'z@open-relay.test', 'a@unknown.test']
    names = mail.postfix.map_names()
    assert set(names) == {
        'virtual_mailbox_domains', 'virtual_mailbox_maps',
        'virtual_alias_maps', 'virtual_uid_maps', 'virtual_gid_maps',
        'transport_maps', 'relocated_maps', 'smtpd_sender_login_maps',
        'relay_domains', 'relay_recipient_maps'}
    found = set()
    for mapname in names:
        keys = domains if mapname in ('virtual_mailbox_domains',
                                      'relay_domains') else addresses
        for key in keys:
            answer = mail.postfix.postmap_query(mapname, key)
            got = sorted(answer.split(',')) if answer is not None else None
            want = expected(db, mapname, key)
            assert got == want, (mapname, key, answer)
            if got:
                found.add(mapname)
    # Every map answered something (the data set covers each of them).
    assert found == set(names)
    # Spot checks on what the functions answer, through Postfix.
    q = mail.postfix.postmap_query
    assert q('virtual_alias_maps', 'info@example.net') == \
        'info+example.net@example.com'
    assert sorted(q('virtual_alias_maps', 'nobody@example.com').split(',')) \
        == ['c@example.com', 'postmaster@example.com']
    assert q('virtual_alias_maps', 'c@example.com') == 'c@example.com'
    assert q('transport_maps', 'b@example.org') == 'smtp:[other.example]:2525'
    assert q('transport_maps', 'nobody@example.com') == \
        'smtp:[mx.example.com]'
    assert q('relocated_maps', 'old@example.net') == 'new@elsewhere.test'
    assert q('relay_recipient_maps', 'z@relay.test') is None
    assert q('relay_recipient_maps', 'z@open-relay.test') == 'OK'


def test_shipped_main_cf_uses_every_map_file(mail):
    """main.cf.example names each shipped pgsql-*.cf file in its parameter
    (the private Postfix runs with it, so `postconf` shows the result)."""
    for mapname in mail.postfix.map_names():
        value = mail.postfix.postconf('-h', '-x', mapname).strip()
        assert value.endswith('pgsql:%s' % mail.postfix.map_file(mapname)), \
            (mapname, value)


def test_dovecot_iterates_each_account_once(vmm, db, mail):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('da', 'example.com'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    ok(vmm('ua', 'b@example.org', '-p', 'secret'))
    ok(vmm('ua', 'c@example.com', '-p', 'secret'))
    out = mail.dovecot.doveadm('user', '*').stdout
    assert sorted(out.split()) == ['a@example.org', 'b@example.org',
                                   'c@example.com']


# -- relay domains (backup MX) -----------------------------------------------


def test_relay_domain_accepts_listed_recipients_and_queues_them(vmm, db,
                                                                mail):
    """A relay domain's listed recipient is accepted and queued for the
    relay transport (nothing listens there: the mail waits, deferred); an
    unlisted one is refused at RCPT TO."""
    nexthop = '[127.0.0.1]:%d' % servers.free_port()
    ok(vmm('rla', 'relay.test', '-t', 'smtp:' + nexthop, '--recipient',
           'x@relay.test'))
    ok(vmm('rla', 'open.test', '-t', 'smtp:' + nexthop))
    code, reply = mail.postfix.rcpt_check(mail.postfix.stranger(),
                                          'y@relay.test')
    assert code == 550 and 'relay recipient' in reply, reply
    for recipient in ('x@relay.test', 'anyone@open.test'):
        status = deliver(mail, recipient, 'for the backup MX')
        assert status and status[0]['status'] == 'deferred', status
        assert '127.0.0.1' in status[0]['relay'] or \
            '127.0.0.1' in status[0]['text'], status
    mail.postfix.purge_queue()
