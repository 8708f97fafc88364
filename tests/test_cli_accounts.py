"""Accounts through the real entry point (vmm(1)): useradd,
userdelete, userinfo, username, usernote, userpassword, userquota,
userservices, usertransport, getuser — long and short names, the database
rows, the mailbox tree, password input, and the failures with their exit
codes and no change."""

import os
import re
import select
import subprocess
import sys
import time

import pytest
from passlib.hash import sha512_crypt

from cli_helpers import (
    Unchanged,
    account_row,
    assert_error,
    assert_ok,
    check_maildir,
    fails_cleanly,
    runner,
)

SCHEME = '{SHA512-CRYPT}'


def stored_hash(db, address):
    local, domain = address.split('@')
    return db.scalar('SELECT u.passwd FROM users u JOIN domain_name n ON '
                     'n.gid = u.gid WHERE n.domainname = %s AND '
                     'u.local_part = %s', (domain, local))


def verifies(db, address, password):
    stored = stored_hash(db, address)
    assert stored.startswith(SCHEME + '$6$'), stored
    return sha512_crypt.verify(password, stored[len(SCHEME):])


def info_fields(out):
    return dict(re.match(r'\t(.*?)\.*: (.*)$', line).groups()
                for line in out.splitlines() if line.startswith('\t')
                and re.match(r'\t(.*?)\.*: ', line))


@pytest.fixture
def domain(vmm):
    assert_ok(vmm('da', 'example.org'))
    return 'example.org'


# -- useradd ------------------------------------------------------------------

def test_useradd_creates_account_and_mailbox(vmm, db, mail_base, domain):
    assert_ok(vmm('useradd', 'Jane.Doe@Example.ORG', '-p', 's3cret',
                  '-n', 'first account'))
    uid, gid, home = account_row(db, 'jane.doe@example.org')
    assert uid >= 70000
    assert db.query('SELECT local_part, name, note, qid, ssid, tid FROM '
                    'users WHERE uid = %s', (uid,)) == \
        [('jane.doe', None, 'first account', None, None, None)]
    assert verifies(db, 'jane.doe@example.org', 's3cret')
    check_maildir(home, uid, gid, 0o700)
    assert os.path.dirname(home) == db.scalar(
        'SELECT domaindir FROM domain_data WHERE gid = %s', (gid,))
    # what Postfix and Dovecot see
    assert db.lookup('postfix_virtual_mailbox_map', 'jane.doe',
                     'example.org') == [('jane.doe@example.org',
                                         home + '/Maildir/')]
    assert db.lookup('dovecotuser', 'jane.doe', 'example.org') == \
        [('jane.doe@example.org', uid, gid, home, 'maildir:~/Maildir')]
    # the short name, and the next UID
    assert_ok(vmm('ua', 'joe@example.org', '--password', 'pw'))
    assert account_row(db, 'joe@example.org')[0] == uid + 1


def test_useradd_mailbox_options(tmp_path, pg, db, mail_base):
    vmm = runner(tmp_path, pg, db, mail_base,
                 mailbox={'folders': 'Archive:Archive.2024:Entwürfe',
                          'root': 'Mail', 'subscribe': 'false'},
                 account={'directory_mode': '488'})
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    uid, gid, home = account_row(db, 'jane@example.org')
    root = os.path.join(home, 'Mail')
    assert sorted(os.listdir(root)) == [
        '.Archive', '.Archive.2024', '.Entw&APw-rfe', 'cur', 'new', 'tmp']
    for name in ('.Archive', '.Archive.2024', '.Entw&APw-rfe'):
        assert os.path.isfile(os.path.join(root, name, 'maildirfolder'))
    st = os.stat(home)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (uid, gid, 0o750)
    assert db.lookup('dovecotuser', 'jane', 'example.org')[0][4] == \
        'maildir:~/Mail'


def test_useradd_password_from_stdin(vmm, db, domain):
    assert_ok(vmm('ua', 'jane@example.org', input='from stdin \n'))
    assert verifies(db, 'jane@example.org', 'from stdin ')
    # one line only: the rest of the input is not part of the password
    assert_ok(vmm('ua', 'joe@example.org', input='first\nsecond\n'))
    assert verifies(db, 'joe@example.org', 'first')


def test_useradd_random_password(tmp_path, pg, db, mail_base):
    vmm = runner(tmp_path, pg, db, mail_base,
                 account={'random_password': 'true'})
    assert_ok(vmm('da', 'example.org'))
    result = assert_ok(vmm('ua', 'jane@example.org'))
    password = re.search(r'jane@example\.org: (\S+)$', result.out,
                         re.M).group(1)
    assert len(password) == 8
    assert verifies(db, 'jane@example.org', password)
    # -p still wins over the generated password, and nothing is printed
    result = assert_ok(vmm('ua', 'joe@example.org', '-p', 'given'))
    assert result.out == ''
    assert verifies(db, 'joe@example.org', 'given')


def _pty_vmm(config, args, answers):
    """Run the installed vmm with a terminal as stdin; answer the password
    prompts.  Returns (exit status, transcript)."""
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), 'vmm'), '--config',
         config] + list(args), stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True)
    os.close(slave)
    transcript = b''
    try:
        for answer in answers:
            deadline = time.monotonic() + 20
            while not transcript.endswith(b'password: '):
                ready = select.select([master], [], [],
                                      deadline - time.monotonic())[0]
                assert ready, transcript
                transcript += os.read(master, 1024)
            os.write(master, answer.encode() + b'\n')
            transcript += b'<answered>'
        code = proc.wait(timeout=30)
        while select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            transcript += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, transcript.decode('utf-8', 'replace')


def test_useradd_prompts_twice_without_echo(config_file, db, vmm, domain):
    code, transcript = _pty_vmm(config_file, ['ua', 'jane@example.org'],
                                ['first', 'other', 'typed pw', 'typed pw'])
    assert code == 0, transcript
    assert 'do not match' in transcript
    assert 'typed pw' not in transcript and 'first' not in transcript
    assert verifies(db, 'jane@example.org', 'typed pw')


def test_useradd_three_failed_prompts(config_file, db, vmm, domain,
                                      snapshot):
    before = snapshot()
    code, transcript = _pty_vmm(config_file, ['ua', 'jane@example.org'],
                                ['a', 'b', '', '', 'c', 'd'])
    assert code == 68, transcript
    assert 'Traceback' not in transcript
    assert snapshot() == before


def test_useradd_failures(vmm, db, snapshot, domain):
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('aa', 'info@example.org', 'jane@example.org'))
    assert_ok(vmm('ra', 'old@example.org', 'new@example.com'))
    check = Unchanged(vmm, snapshot)
    check(21, 'ua', 'jane@example.org', '-p', 'pw')
    check(21, 'useradd', 'JANE@example.org', '-p', 'pw')
    check(28, 'ua', 'info@example.org', '-p', 'pw')
    check(60, 'ua', 'old@example.org', '-p', 'pw')
    check(37, 'ua', 'joe@example.net', '-p', 'pw')
    check(57, 'ua', 'joe@nowhere.example', '-p', 'pw')
    check(69, 'ua', 'joe@example.org', input='')
    check(69, 'ua', 'joe@example.org', input='\n')
    check(69, 'ua', 'joe@example.org', '-p', '')
    check(43, 'ua', 'joe', '-p', 'pw')
    check(2, 'ua')


def test_useradd_without_domain_directory(vmm, db, snapshot, domain):
    directory = db.scalar('SELECT domaindir FROM domain_data')
    os.rmdir(directory)
    fails_cleanly(vmm, snapshot, 56, 'ua', 'jane@example.org', '-p', 'pw')


# -- userdelete ---------------------------------------------------------------

def test_userdelete(vmm, db, domain):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('ua', 'joe@example.org', '-p', 'pw'))
    _uid, _gid, home = account_row(db, 'jane@example.org')
    assert_ok(vmm('userdelete', 'jane@example.org'))
    assert account_row(db, 'jane@example.org') is None
    assert os.path.isdir(home)          # without --delete-directory
    _uid, _gid, home = account_row(db, 'joe@example.org')
    assert_ok(vmm('ud', 'joe@example.org', '--delete-directory'))
    assert account_row(db, 'joe@example.org') is None
    assert not os.path.exists(home)
    assert os.path.isdir(os.path.dirname(home))


def test_userdelete_delete_directory_config(tmp_path, pg, db, mail_base):
    vmm = runner(tmp_path, pg, db, mail_base,
                 account={'delete_directory': 'true'})
    assert_ok(vmm('da', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    home = account_row(db, 'jane@example.org')[2]
    assert_ok(vmm('ud', 'jane@example.org'))
    assert not os.path.exists(home)


def test_userdelete_with_aliases_pointing_at_it(vmm, db, snapshot, domain):
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('da', 'other.example'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('aa', 'info@example.org', 'jane@example.org',
                  'boss@example.com'))
    assert_ok(vmm('aa', 'sales@other.example', 'jane@example.net'))
    assert_ok(vmm('caa', 'other.example', 'jane@example.org'))
    home = account_row(db, 'jane@example.org')[2]
    check = Unchanged(vmm, snapshot)
    result = check(30, 'ud', 'jane@example.org')
    assert '--force' in result.err
    check(30, 'ud', 'jane@example.org', '--delete-directory')
    check(52, 'ud', 'nobody@example.org')
    check(52, 'ud', 'jane@other.example')
    check(57, 'ud', 'jane@nowhere.example')
    assert_ok(vmm('ud', 'jane@example.org', '--force'))
    assert account_row(db, 'jane@example.org') is None
    assert os.path.isdir(home)
    # only the destinations that pointed at the account are gone
    assert db.query('SELECT address, destination FROM alias') == \
        [('info', 'boss@example.com')]
    assert db.query('SELECT * FROM catchall') == []


def test_userdelete_through_alias_domain(vmm, db, domain):
    assert_ok(vmm('ada', 'example.net', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('ud', 'jane@example.net'))
    assert account_row(db, 'jane@example.org') is None


# -- userinfo -----------------------------------------------------------------

def test_userinfo_marks_inherited_values(vmm, db, domain):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    uid, gid, home = account_row(db, 'jane@example.org')
    fields = info_fields(assert_ok(vmm('userinfo', 'jane@example.org')).out)
    assert fields['Address'] == 'jane@example.org'
    assert fields['UID'] == str(uid) and fields['GID'] == str(gid)
    assert fields['Home'] == home
    assert fields['Mail location'] == 'maildir:~/Maildir'
    for label in ('Quota limit', 'Transport', 'Services'):
        assert fields[label].endswith(' [domain default]'), fields
    assert_ok(vmm('uq', 'jane@example.org', '100M'))
    assert_ok(vmm('ut', 'jane@example.org', 'smtp:'))
    assert_ok(vmm('us', 'jane@example.org', '-d', 'pop3'))
    fields = info_fields(assert_ok(vmm('ui', 'jane@example.org')).out)
    assert fields['Quota limit'] == 'Storage: 100M; Messages: unlimited'
    assert fields['Transport'] == 'smtp:'
    assert fields['Services'] == 'SMTP IMAP SIEVE'


def test_userinfo_details(vmm, db, snapshot, domain):
    assert_ok(vmm('ada', 'bücher.example', 'example.org'))
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('aa', 'info@example.org', 'jane@bücher.example'))
    assert_ok(vmm('caa', 'example.org', 'jane@example.org'))
    out = assert_ok(vmm('ui', 'jane@example.org', '-d', 'aliases')).out
    assert '\tinfo@example.org → jane@bücher.example\n' in out
    assert '\t@example.org → jane@example.org\n' in out
    out = assert_ok(vmm('ui', 'jane@xn--bcher-kva.example', '-d', 'du')).out
    assert 'Disk usage' in info_fields(out)
    out = assert_ok(vmm('ui', 'jane@bücher.example', '-d', 'full')).out
    assert 'Disk usage' in out and 'info@example.org' in out
    check = Unchanged(vmm, snapshot)
    check(52, 'ui', 'nobody@example.org')
    check(52, 'ui', 'info@example.org')
    check(57, 'ui', 'jane@nowhere.example')
    check(2, 'ui', 'jane@example.org', '-d', 'everything')


def fake_doveadm(tmp_path, script):
    """An executable standing in for doveadm (sh *script*)."""
    path = tmp_path / 'doveadm'
    path.write_text('#!/bin/sh\n' + script)
    path.chmod(0o755)
    return str(path)


def quota_usage(result):
    return info_fields(assert_ok(result).out)['Quota usage']


def test_userinfo_quota_usage_without_dovecots_answer(tmp_path, pg, db,
                                                      mail_base, monkeypatch):
    """No doveadm: the dict-quota table, else unknown, and no warning. A
    doveadm that fails or hangs: the same, with one warning saying why, and
    no longer than the timeout."""
    missing = runner(tmp_path, pg, db, mail_base, 'missing.cfg',
                     bin={'doveadm': str(tmp_path / 'no-doveadm')})
    assert_ok(missing('da', 'example.org'))
    assert_ok(missing('ua', 'jane@example.org', '-p', 'pw'))
    result = missing('ui', 'jane@example.org')
    assert quota_usage(result) == 'unknown' and result.err == ''
    uid = account_row(db, 'jane@example.org')[0]
    db.query('INSERT INTO userquota (uid, bytes, messages) '
             'VALUES (%s, 3145728, 42)', (uid,))
    result = missing('ui', 'jane@example.org')
    assert quota_usage(result) == 'Storage: 3M; Messages: 42', result
    assert result.err == ''

    failing = runner(tmp_path, pg, db, mail_base, 'failing.cfg', bin={
        'doveadm': fake_doveadm(tmp_path, 'echo "Fatal: no quota here" >&2\n'
                                          'exit 75\n')})
    result = failing('ui', 'jane@example.org')
    assert quota_usage(result) == 'Storage: 3M; Messages: 42', result
    assert result.err.count('\n') == 1, result
    assert result.err.startswith('Warning: `doveadm -f tab quota get -u '
                                 'jane@example.org` failed: no quota here')
    db.query('DELETE FROM userquota')
    result = failing('--json', 'ui', 'jane@example.org')
    import json
    assert json.loads(result.out)['account']['quota_usage'] is None
    assert 'no quota here' in json.loads(result.err)['warning']

    monkeypatch.setattr('vmm.doveadm.TIMEOUT', 1)
    hanging = runner(tmp_path, pg, db, mail_base, 'hanging.cfg', bin={
        'doveadm': fake_doveadm(tmp_path, 'exec sleep 60\n')})
    started = time.monotonic()
    result = hanging('ui', 'jane@example.org')
    assert time.monotonic() - started < 10
    assert quota_usage(result) == 'unknown'
    assert 'did not answer within 1 seconds' in result.err, result


# -- username / usernote ----------------------------------------------------

def test_username_and_usernote(vmm, db, snapshot, domain):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('username', 'jane@example.org', '-n', 'Jane Dœ'))
    assert_ok(vmm('usernote', 'jane@example.org', '-n', 'on leave'))
    assert db.query('SELECT name, note FROM users') == [('Jane Dœ',
                                                         'on leave')]
    fields = info_fields(vmm('ui', 'jane@example.org').out)
    assert (fields['Name'], fields['Note']) == ('Jane Dœ', 'on leave')
    assert_ok(vmm('un', 'jane@example.org', '--name', 'Jane'))
    assert_ok(vmm('uo', 'jane@example.org', '--note', 'back'))
    assert db.query('SELECT name, note FROM users') == [('Jane', 'back')]
    assert_ok(vmm('un', 'jane@example.org', '-d'))
    assert_ok(vmm('uo', 'jane@example.org', '--delete'))
    assert db.query('SELECT name, note FROM users') == [(None, None)]
    check = Unchanged(vmm, snapshot)
    check(52, 'un', 'nobody@example.org', '-n', 'x')
    check(52, 'uo', 'nobody@example.org', '-n', 'x')
    check(2, 'un', 'jane@example.org')
    check(2, 'uo', 'jane@example.org', '-d', '-n', 'x')
    check(44, 'un', 'jane@example.org', '-n', 'x' * 129)


# -- userpassword -------------------------------------------------------------

def test_userpassword(vmm, db, snapshot, domain):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'old'))
    assert_ok(vmm('userpassword', 'jane@example.org', '-p', 'new one'))
    assert verifies(db, 'jane@example.org', 'new one')
    assert_ok(vmm('up', 'jane@example.org', input='from stdin\n'))
    assert verifies(db, 'jane@example.org', 'from stdin')
    assert_ok(vmm('up', 'jane@example.org', '-p', 'pw', '-s', 'SSHA512'))
    assert stored_hash(db, 'jane@example.org').startswith('{SSHA512}')
    assert_ok(vmm('up', 'jane@example.org', '--hash', '{PLAIN}clear'))
    assert stored_hash(db, 'jane@example.org') == '{PLAIN}clear'
    check = Unchanged(vmm, snapshot)
    check(52, 'up', 'nobody@example.org', '-p', 'x')
    check(44, 'up', 'jane@example.org', '-p', 'x', '-s', 'NO-SUCH')
    check(44, 'up', 'jane@example.org', '--hash', 'no scheme')
    check(44, 'up', 'jane@example.org', '--hash', '{NO-SUCH}x')
    check(69, 'up', 'jane@example.org', input='')
    check(2, 'up', 'jane@example.org', '-p', 'x', '--hash', '{PLAIN}x')


# -- userquota / userservices / usertransport -------------------------------

def test_userquota(vmm, db, snapshot, domain):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('userquota', 'jane@example.org', '512M', '-m', '1000'))
    assert db.lookup('dovecotquotauser', 'jane', 'example.org')[0][5] == \
        '*:bytes=536870912:messages=1000'
    assert_ok(vmm('uq', 'jane@example.org', '0'))   # unlimited, own
    assert db.lookup('dovecotquotauser', 'jane', 'example.org')[0][5] == \
        '*:bytes=0:messages=0'
    assert_ok(vmm('dq', 'example.org', '1G'))
    assert 'Storage: unlimited' in vmm('ui', 'jane@example.org').out
    assert_ok(vmm('uq', 'jane@example.org', 'domain'))
    assert db.scalar('SELECT qid FROM users') is None
    assert db.lookup('dovecotquotauser', 'jane', 'example.org')[0][5] == \
        '*:bytes=1073741824:messages=0'
    check = Unchanged(vmm, snapshot)
    check(52, 'uq', 'nobody@example.org', '1G')
    check(44, 'uq', 'jane@example.org', '1.5G')
    check(44, 'uq', 'jane@example.org', '1G', '-m', '-1')
    check(2, 'uq', 'jane@example.org', 'domain', '-m', '5')


def test_userservices(vmm, db, snapshot, domain):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))

    def flags():
        return db.lookup('dovecotpassword', 'jane', 'example.org')[0][2:]
    assert_ok(vmm('userservices', 'jane@example.org', '-d', 'imap', 'pop3'))
    assert flags() == (True, False, False, True)
    assert_ok(vmm('us', 'jane@example.org', '--enable', 'pop3'))
    assert flags() == (True, True, False, True)
    assert_ok(vmm('ds', 'example.org', '-d', 'sieve'))
    assert flags() == (True, True, False, True)      # its own set
    assert_ok(vmm('us', 'jane@example.org', '-r'))
    assert db.scalar('SELECT ssid FROM users') is None
    assert flags() == (True, True, True, False)      # the domain's again
    check = Unchanged(vmm, snapshot)
    check(52, 'us', 'nobody@example.org', '-e', 'imap')
    check(65, 'us', 'jane@example.org', '-e', 'imap', 'ftp')
    check(2, 'us', 'jane@example.org')
    check(2, 'us', 'jane@example.org', '-r', '-e', 'imap')


def test_usertransport(vmm, db, snapshot, domain):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    assert_ok(vmm('usertransport', 'jane@example.org',
                  'smtp:[mail.example.com]:587'))
    assert db.lookup('postfix_transport_map', 'jane', 'example.org') == \
        [('jane@example.org', 'smtp:[mail.example.com]:587')]
    assert_ok(vmm('ut', 'jane@example.org', 'domain'))
    assert db.scalar('SELECT tid FROM users') is None
    assert db.lookup('postfix_transport_map', 'jane', 'example.org') == \
        [('jane@example.org', 'lmtp:unix:private/dovecot-lmtp')]
    check = Unchanged(vmm, snapshot)
    check(52, 'ut', 'nobody@example.org', 'smtp:')
    check(44, 'ut', 'jane@example.org', 'smtp:\tx')
    check(44, 'ut', 'jane@example.org', 'x' * 271)


# -- getuser ------------------------------------------------------------------

def test_getuser(vmm, db, snapshot, domain):
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    uid = account_row(db, 'jane@example.org')[0]
    for cmd in ('getuser', 'gu'):
        fields = info_fields(assert_ok(vmm(cmd, str(uid))).out)
        assert fields['Address'] == 'jane@example.org'
        assert fields['UID'] == str(uid)
    check = Unchanged(vmm, snapshot)
    check(52, 'gu', str(uid + 1))
    check(2, 'gu', 'jane')
    check(2, 'gu', '-1')


def test_not_root_is_refused_clearly(vmm, snapshot, domain, monkeypatch):
    """Directory work needs root: exit 67 with a clear message, nothing
    created (os.geteuid is faked; the test itself runs as root)."""
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    check = Unchanged(vmm, snapshot)
    result = check(67, 'ua', 'jane@example.org', '-p', 'pw')
    assert 'root' in result.err
    check(67, 'da', 'example.net')


def test_short_and_long_options_on_subprocess(vmm, db, domain):
    """The installed script behaves as the in-process entry point."""
    result = vmm('ua', 'jane@example.org', '-p', 'pw', subprocess=True)
    assert_ok(result)
    result = vmm('ua', 'jane@example.org', '-p', 'pw', subprocess=True)
    assert_error(result, 21)


def test_symlinked_directories_are_refused(vmm, db, snapshot, domain,
                                           tmp_path):
    """Nothing is created or deleted outside misc.base_directory: a domain
    directory replaced by a symbolic link is refused, and the failed
    deletion keeps the database rows."""
    assert_ok(vmm('ua', 'jane@example.org', '-p', 'pw'))
    directory = db.scalar('SELECT domaindir FROM domain_data')
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'precious').write_text('keep me')
    os.rename(directory, str(tmp_path / 'moved'))
    os.symlink(str(outside), directory)
    check = Unchanged(vmm, snapshot)
    check(67, 'ua', 'joe@example.org', '-p', 'pw')
    check(67, 'ud', 'jane@example.org', '--delete-directory')
    check(67, 'dd', 'example.org', '--force', '--delete-directory')
    assert sorted(os.listdir(str(outside))) == ['precious']
    assert account_row(db, 'jane@example.org') is not None
