"""uservacation (vmm(1) "Vacation").

Unit tests of the Sieve script vmm writes (escaping, dates, validity with
Pigeonhole's own ``sievec``/``sieve-test``), of the file handling in the
account's home (owners, modes, atomic replacement, symbolic links, the
user's own script kept and put back, rollback) and of the command line;
then end to end through the private Postfix and Dovecot: real mail in,
real vacation replies out.
"""

import email
import email.policy
import os
import pathlib
import re
import shutil
import socket
import stat
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmm import vacation
from vmm.vacation import Previous, Settings

import servers
from cli_helpers import assert_ok as ok
from conftest import skip_unless

SIEVEC = shutil.which('sievec') or '/usr/bin/sievec'
SIEVE_TEST = shutil.which('sieve-test') or '/usr/bin/sieve-test'

needs_root = skip_unless(os.geteuid() == 0, 'vmm writes homes as root')


# ---------------------------------------------------------------------------
# A small reader of the scripts vmm writes (RFC 5228 lexical rules), to
# check that what Pigeonhole compiles is exactly the expected commands
# with exactly the given strings.
# ---------------------------------------------------------------------------

_TOKEN = re.compile(r'''
    (?P<space>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*\n?|/\*.*?\*/)
  | (?P<multiline>text:[ \t]*(?:\#[^\n]*)?\n)
  | (?P<string>")
  | (?P<tag>:[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9]+[KMG]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<special>[\[\](){},;])
''', re.X | re.S)


def sieve_tokens(text):
    pos, tokens = 0, []
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match, 'cannot read the script at %r' % text[pos:pos + 40]
        kind = match.lastgroup
        pos = match.end()
        if kind in ('space', 'comment'):
            continue
        if kind == 'string':
            value = []
            while text[pos] != '"':
                if text[pos] == '\\':
                    pos += 1
                value.append(text[pos])
                pos += 1
            pos += 1
            tokens.append(('string', ''.join(value)))
        elif kind == 'multiline':
            lines = []
            while True:
                end = text.index('\n', pos)
                line = text[pos:end]
                pos = end + 1
                if line == '.':
                    break
                lines.append(line[1:] if line.startswith('..') else line)
            tokens.append(('string', ''.join(l + '\n' for l in lines)))
        else:
            tokens.append((kind, match.group()))
    return tokens


def sieve_commands(text):
    """The script as a list of (command, [arguments]) at every level;
    string lists are tuples, tests are left out."""
    commands, current, stack = [], None, []
    tokens = sieve_tokens(text)
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        index += 1
        if kind == 'ident' and current is None:
            current = (value, [])
        elif kind == 'special' and value == ';':
            commands.append(current)
            current = None
        elif kind == 'special' and value == '{':
            commands.append(current)
            stack.append(current)
            current = None
        elif kind == 'special' and value == '}':
            stack.pop()
        elif kind == 'special' and value == '[':
            items = []
            while tokens[index] != ('special', ']'):
                if tokens[index][0] == 'string':
                    items.append(tokens[index][1])
                index += 1
            index += 1
            current[1].append(tuple(items))
        elif current is not None:
            current[1].append(value)
    assert current is None and not stack, 'unterminated script'
    return commands


def vacation_arguments(text):
    """The arguments of the one vacation command: {tag: value, 'reason':}."""
    found = [args for name, args in sieve_commands(text)
             if name == 'vacation']
    assert len(found) == 1, found
    args, result = found[0], {}
    index = 0
    while index < len(args) - 1:
        result[args[index]] = args[index + 1]
        index += 2
    result['reason'] = args[-1]
    return result


# ---------------------------------------------------------------------------
# Pigeonhole's own tools
# ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def pigeonhole():
    """A directory every user may read, with configurations for sievec
    (personal storage ``sieve/``) and for sieve-test (runs as nobody)."""
    directory = tempfile.mkdtemp(prefix='vmm-test-sieve-')
    os.chmod(directory, 0o755)
    os.mkdir(os.path.join(directory, 'sieve'), 0o755)
    sieve = 'plugin {\n  sieve = file:%s/sieve;active=%s/.dovecot.sieve\n}\n' \
        % (directory, directory)
    with open(os.path.join(directory, 'sievec.conf'), 'w') as handle:
        handle.write(sieve)
    with open(os.path.join(directory, 'test.conf'), 'w') as handle:
        handle.write('mail_uid = nobody\nmail_gid = nogroup\n'
                     'first_valid_uid = 1\nfirst_valid_gid = 1\n'
                     'mail_location = maildir:%s/Maildir\n' % directory
                     + sieve)
    with open(os.path.join(directory, 'mail.eml'), 'w') as handle:
        handle.write('From: b@example.org\nTo: a@example.org\n'
                     'Subject: hello\nMessage-ID: <1@example.org>\n\n'
                     'Hello.\n')
    for name in os.listdir(directory):
        os.chmod(os.path.join(directory, name), 0o755)
    yield pathlib.Path(directory)
    shutil.rmtree(directory, ignore_errors=True)


def sievec(pigeonhole, path):
    """Compile *path* with Pigeonhole; the CompletedProcess."""
    out = pigeonhole / ('out-%d.svbin' % os.getpid())
    proc = subprocess.run([SIEVEC, '-c', str(pigeonhole / 'sievec.conf'),
                           str(path), str(out)], capture_output=True,
                          text=True, timeout=60)
    if out.exists():
        out.unlink()
    return proc


def sieve_test(pigeonhole, script):
    """Run *script* (text) on a mail from b@ to a@ with sieve-test;
    None when it does not reply, else (subject or None, reason)."""
    fd, path = tempfile.mkstemp(suffix='.sieve', dir=str(pigeonhole))
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(script)
        os.chmod(path, 0o644)
        proc = subprocess.run(
            [SIEVE_TEST, '-c', str(pigeonhole / 'test.conf'),
             '-r', 'a@example.org', '-f', 'b@example.org', path,
             str(pigeonhole / 'mail.eml')], capture_output=True, timeout=60)
    finally:
        os.unlink(path)
    out = proc.stdout.decode('utf-8')
    assert proc.returncode == 0, (out, proc.stderr)
    if 'send vacation message' not in out:
        return None
    match = re.search(r'^    => subject : (.*)$', out, re.M)
    subject = match.group(1) if match else None
    reason = out.split('START MESSAGE\n', 1)[1].rsplit('\nEND MESSAGE', 1)[0]
    reason = reason.replace('\r\n', '\n')
    assert reason.endswith('\n')
    return subject, reason[:-1]


def script_for(subject='Away', body='I am away.', **kwargs):
    previous = kwargs.pop('previous', Previous('none'))
    addresses = kwargs.pop('addresses', ['a@example.org'])
    return vacation.make_script(
        Settings(True, vacation.check_subject(subject),
                 vacation.check_body(body), **kwargs), addresses, previous)


# ---------------------------------------------------------------------------
# Escaping: no subject or text can change the script's commands
# ---------------------------------------------------------------------------

SIEVE_SYNTAX = ['"', '\\', '\\"', '"\\', ';', '#', '"; discard; #', '}',
                '{', '/*', '*/', 'text:', '.', '..', '${x}', '${hex:41}',
                ']', '[', ',', 'stop;', 'keep', 'ü', '☃', '\t', ' ']

_plain = st.characters(blacklist_categories=('Cc', 'Cs', 'Zl', 'Zp'))
subjects = st.lists(st.one_of(st.sampled_from(SIEVE_SYNTAX).filter(
    lambda s: s != '\t'), st.text(_plain, max_size=10)),
    min_size=1, max_size=8).map(''.join).filter(
        lambda s: s and len(s) <= vacation.MAX_SUBJECT)
lines = st.lists(st.one_of(st.sampled_from(SIEVE_SYNTAX + ['.', '.x', '']),
                           st.text(_plain, max_size=12)),
                 max_size=5).map(''.join)
bodies = st.lists(lines, min_size=1, max_size=6).map('\n'.join).filter(
    lambda s: s.strip())


def test_quoting_helpers():
    assert vacation.sieve_string('a"b\\c') == r'"a\"b\\c"'
    assert vacation.sieve_multiline('a\n.\n.x\nb') == \
        'text:\na\n..\n..x\nb\n.\n'


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(subject=subjects, body=bodies)
def test_any_subject_and_text_round_trip(pigeonhole, subject, body):
    script = script_for(subject, body, date_from=None,
                        previous=Previous('link', 'sieve/mine.sieve'))
    expected = vacation.check_body(body)
    # Exactly the commands vmm means, with exactly these strings ...
    names = [name for name, _args in sieve_commands(script)]
    assert names == ['require', 'vacation', 'include']
    args = vacation_arguments(script)
    assert args[':subject'] == subject
    assert args['reason'] == expected + '\n'
    assert args[':addresses'] == ('a@example.org',)
    # ... and Pigeonhole reads them the same way.
    assert sieve_test(pigeonhole, script_for(subject, body)) == \
        (subject, expected)


def test_script_compiles_with_dates_and_include(pigeonhole):
    (pigeonhole / 'sieve' / 'mine.sieve').write_text(
        'require "fileinto";\nfileinto "Work";\n')
    os.chmod(pigeonhole / 'sieve' / 'mine.sieve', 0o644)
    import datetime
    day = datetime.date(2030, 1, 2)
    for kwargs in ({}, {'date_from': day}, {'date_until': day},
                   {'date_from': day, 'date_until': day, 'days': 30}):
        for previous in (Previous('none'), Previous('file', 'mine'),
                         Previous('link', 'sieve/mine.sieve'),
                         Previous('link', 'sieve/missing.sieve')):
            script = script_for('Away "now"', 'Back soon.\n.\n', **kwargs,
                                previous=previous,
                                addresses=['a@example.org', 'a@example.net'])
            path = pigeonhole / 'vmm-vacation.sieve'
            path.write_text(script)
            proc = sievec(pigeonhole, path)
            assert proc.returncode == 0, (script, proc.stderr)
            assert vacation.parse_previous(script) == previous
            names = [name for name, _a in sieve_commands(script)]
            assert names[-1] == ('include' if previous.name else 'vacation')
            args = vacation_arguments(script)
            assert args[':days'] == str(kwargs.get('days', 7))


def test_dates_decide_whether_to_reply(pigeonhole):
    import datetime
    today = datetime.date.today()
    day = datetime.timedelta(days=1)
    cases = [({'date_from': today, 'date_until': today}, True),
             ({'date_from': today - day}, True),
             ({'date_until': today + day}, True),
             ({'date_from': today + day}, False),
             ({'date_until': today - day}, False),
             ({'date_from': today - 10 * day, 'date_until': today - day},
              False)]
    for kwargs, replies in cases:
        result = sieve_test(pigeonhole, script_for('S', 'T', **kwargs))
        assert (result is not None) == replies, kwargs


def test_long_text_compiles(pigeonhole):
    body = '\n'.join(('.' if n % 3 == 0 else 'line %d: ü "x" \\ ;' % n)
                     for n in range(20000))
    assert len(body.encode('utf-8')) < vacation.MAX_BODY_BYTES
    path = pigeonhole / 'long.sieve'
    path.write_text(script_for('Long', body))
    proc = sievec(pigeonhole, path)
    assert proc.returncode == 0, proc.stderr
    assert vacation_arguments(path.read_text())['reason'] == body + '\n'


@pytest.mark.parametrize('subject', ['a\nb', 'a\rb', 'a\0b', 'a\x1bb',
                                     'a\x85b', 'a\u2028b', 'x' * 256,
                                     '\udc80'])
def test_bad_subject_refused(subject):
    with pytest.raises(vacation.VMMError) as err:
        vacation.check_subject(subject)
    assert err.value.code == 44


@pytest.mark.parametrize('body', ['', '\n\n', '  \n', 'a\0b', 'a\x1b',
                                  'ok\n\x07', 'x' * 500001, '\udc80'])
def test_bad_body_refused(body):
    with pytest.raises(vacation.VMMError) as err:
        vacation.check_body(body)
    assert err.value.code == 44


def test_body_normalised():
    assert vacation.check_body('a\r\nb\rc\n\n\n') == 'a\nb\nc'
    assert vacation.check_body('\ttab\u2028') == '\ttab\u2028'


def test_dates_and_days():
    import datetime
    assert vacation.parse_date('2024-02-29') == datetime.date(2024, 2, 29)
    for bad in ('2023-02-29', '2024-1-01', '20240101', '2024-01-01T00',
                ' 2024-01-01', '２０２４-01-01', ''):
        with pytest.raises(ValueError):
            vacation.parse_date(bad)
    for bad in (0, -1, vacation.MAX_DAYS + 1, True):
        with pytest.raises(vacation.VMMError) as err:
            vacation.check_days(bad)
        assert err.value.code == 44
    assert vacation.check_days(None) == 7


def test_previous_record_is_strict():
    parse = vacation.parse_previous
    assert parse('# vmm-previous-active: none\n') == Previous('none')
    assert parse('# vmm-previous-active: link "sieve/a \\"b\\".sieve"\n') \
        == Previous('link', 'sieve/a "b".sieve')
    assert parse('# vmm-previous-active: file "vmm-saved"\n') == \
        Previous('file', 'vmm-saved')
    for bad in ('link "../etc/passwd"', 'link "/etc/x.sieve"',
                'link "sieve/x"', 'link "sieve/vmm-vacation.sieve"',
                'file "a/b"', 'file "vmm-vacation"', 'file "x\\', 'other',
                'link "sieve/a\nb.sieve"'):
        assert parse('# vmm-previous-active: %s\n' % bad) is None, bad
    assert parse('require "vacation";\n') is None


# ---------------------------------------------------------------------------
# The command on an account's home (no mail servers)
# ---------------------------------------------------------------------------

def home_of(db, address):
    local, domain = address.split('@')
    return pathlib.Path(db.lookup('dovecotuser', local, domain)[0][3])


def ids_of(db, address):
    local, domain = address.split('@')
    row = db.lookup('dovecotuser', local, domain)[0]
    return row[1], row[2]


@pytest.fixture
def account(vmm, db):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    ok(vmm('ua', 'a@example.org', '-p', 'secret'))
    return home_of(db, 'a@example.org')


def vacation_row(db):
    return db.query('SELECT active, subject, body, date_from::text, '
                    'date_until::text, days FROM vacation')


def log_count(db):
    return db.scalar('SELECT count(*) FROM vmm_log')


def listing(path):
    """Names, kinds, owners and modes below *path* (symlinks not
    followed)."""
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            st_ = os.lstat(full)
            found[os.path.relpath(full, path)] = (
                stat.S_IFMT(st_.st_mode), stat.S_IMODE(st_.st_mode),
                st_.st_uid, st_.st_gid,
                os.readlink(full) if os.path.islink(full) else None)
    return found


@needs_root
def test_on_writes_script_and_link(vmm, db, account):
    uid, gid = ids_of(db, 'a@example.org')
    before = log_count(db)
    ok(vmm('uv', 'a@example.org', '--on', '-s', 'Away', '-m',
           'Back on Monday.\n', '--from', '2030-01-01', '--until',
           '2030-01-31', '--days', '3'))
    assert vacation_row(db) == [(True, 'Away', 'Back on Monday.',
                                 '2030-01-01', '2030-01-31', 3)]
    assert log_count(db) == before + 1
    files = listing(account)
    assert files['.dovecot.sieve'] == (stat.S_IFLNK, 0o777, uid, gid,
                                       'sieve/vmm-vacation.sieve')
    assert files['sieve'] == (stat.S_IFDIR, 0o700, uid, gid, None)
    assert files['sieve/vmm-vacation.sieve'] == (stat.S_IFREG, 0o600, uid,
                                                 gid, None)
    assert [n for n in files if 'tmp-' in n] == []
    script = (account / 'sieve' / 'vmm-vacation.sieve').read_text()
    args = vacation_arguments(script)
    assert args[':subject'] == 'Away' and args[':days'] == '3'
    assert args[':addresses'] == ('a@example.org', 'a@example.net')
    assert '"2030-01-01"' in script and '"2030-01-31"' in script
    assert vacation.parse_previous(script) == Previous('none')

    # An alias-domain address names the same account; --on again changes
    # the text and leaves the active link alone.
    link_inode = os.lstat(account / '.dovecot.sieve').st_ino
    ok(vmm('uv', 'A@example.net', '--on', '-m', 'Changed.'))
    assert vacation_row(db) == [(True, '', 'Changed.', None, None, 7)]
    assert os.lstat(account / '.dovecot.sieve').st_ino == link_inode
    script = (account / 'sieve' / 'vmm-vacation.sieve').read_text()
    assert ':subject' not in script
    assert vacation_arguments(script)['reason'] == 'Changed.\n'

    before = log_count(db)
    ok(vmm('uv', 'a@example.org', '--off'))
    assert vacation_row(db) == [(False, '', 'Changed.', None, None, 7)]
    assert log_count(db) == before + 1
    files = listing(account)
    assert '.dovecot.sieve' not in files
    assert [n for n in files if n.startswith('sieve/')] == []


@needs_root
def test_managesieve_style_link_kept_and_restored(vmm, db, account):
    uid, gid = ids_of(db, 'a@example.org')
    sieve = account / 'sieve'
    sieve.mkdir(mode=0o700)
    (sieve / 'roundcube.sieve').write_text('require "fileinto";\n'
                                           'fileinto "Work";\n')
    os.symlink('sieve/roundcube.sieve', account / '.dovecot.sieve')
    for path in (sieve, sieve / 'roundcube.sieve'):
        os.chown(path, uid, gid)
    os.lchown(account / '.dovecot.sieve', uid, gid)
    before = listing(account)

    ok(vmm('uv', 'a@example.org', '--on', '-m', 'Away.'))
    script = (sieve / 'vmm-vacation.sieve').read_text()
    assert sieve_commands(script)[-1] == (
        'include', [':personal', ':optional', 'roundcube'])
    assert vacation.parse_previous(script) == \
        Previous('link', 'sieve/roundcube.sieve')
    assert os.readlink(account / '.dovecot.sieve') == \
        'sieve/vmm-vacation.sieve'
    show = ok(vmm('uv', 'a@example.org', '--show')).out
    assert "'roundcube' (runs after the vacation rule)" in show
    ok(vmm('uv', 'a@example.org', '--on', '-m', 'Away again.'))
    assert vacation.parse_previous(
        (sieve / 'vmm-vacation.sieve').read_text()) == \
        Previous('link', 'sieve/roundcube.sieve')

    # Temporary files of a run that was killed are swept away.
    (sieve / '.vmm-tmp-1-abc').write_text('half')
    os.symlink('sieve/x.sieve', account / '.dovecot.sieve.vmm-tmp-1-abc')
    ok(vmm('uv', 'a@example.org', '--off'))
    assert listing(account) == before
    show = ok(vmm('uv', 'a@example.org', '--show')).out
    assert re.search(r"User's own script\.*: 'roundcube' \(active\)", show)


@needs_root
def test_plain_dovecot_sieve_kept_and_put_back(vmm, db, account):
    uid, gid = ids_of(db, 'a@example.org')
    active = account / '.dovecot.sieve'
    active.write_text('require "fileinto";\nfileinto "Work";\n')
    os.chown(active, uid, gid)
    os.chmod(active, 0o640)
    original = os.stat(active)
    # A saved name already taken: vmm picks another one.
    (account / 'sieve').mkdir(mode=0o700)
    os.chown(account / 'sieve', uid, gid)
    (account / 'sieve' / 'vmm-saved-dovecot-sieve.sieve').write_text('#\n')
    before = listing(account)

    ok(vmm('uv', 'a@example.org', '--on', '-m', 'Away.'))
    saved = account / 'sieve' / 'vmm-saved-dovecot-sieve-2.sieve'
    assert os.stat(saved).st_ino == original.st_ino
    assert os.readlink(active) == 'sieve/vmm-vacation.sieve'
    script = (account / 'sieve' / 'vmm-vacation.sieve').read_text()
    assert vacation.parse_previous(script) == \
        Previous('file', 'vmm-saved-dovecot-sieve-2')
    assert sieve_commands(script)[-1][1][-1] == 'vmm-saved-dovecot-sieve-2'
    # Dovecot compiles the active script to ~/.dovecot.svbin (also through
    # the link): vmm removes the binaries whenever it changes the script.
    binaries = (account / '.dovecot.svbin',
                account / 'sieve' / 'vmm-vacation.svbin')
    for path in binaries:
        path.write_bytes(b'stale')
    ok(vmm('uv', 'a@example.org', '--on', '-m', 'Away, still.'))
    assert not any(path.exists() for path in binaries)
    assert vacation.parse_previous(
        (account / 'sieve' / 'vmm-vacation.sieve').read_text()) == \
        Previous('file', 'vmm-saved-dovecot-sieve-2')

    for path in binaries:
        path.write_bytes(b'stale')
    ok(vmm('uv', 'a@example.org', '--off'))
    assert listing(account) == before
    now = os.stat(active)
    assert (now.st_ino, now.st_mode, now.st_uid, now.st_gid,
            now.st_mtime_ns) == (original.st_ino, original.st_mode,
                                 original.st_uid, original.st_gid,
                                 original.st_mtime_ns)


@needs_root
def test_user_switched_script_left_alone_by_off(vmm, db, account):
    ok(vmm('uv', 'a@example.org', '--on', '-m', 'Away.'))
    # The user makes another script active through ManageSieve.
    (account / 'sieve' / 'other.sieve').write_text('keep;\n')
    os.unlink(account / '.dovecot.sieve')
    os.symlink('sieve/other.sieve', account / '.dovecot.sieve')
    show = ok(vmm('uv', 'a@example.org', '--show')).out
    assert 'another script was made active' in show
    ok(vmm('uv', 'a@example.org', '--off'))
    assert os.readlink(account / '.dovecot.sieve') == 'sieve/other.sieve'
    assert not (account / 'sieve' / 'vmm-vacation.sieve').exists()
    # --off again: nothing to do, said so, exit 0, no log record.
    before = log_count(db)
    result = ok(vmm('uv', 'a@example.org', '--off'))
    assert 'was not on' in result.err
    assert log_count(db) == before


@needs_root
def test_symlinks_out_of_the_home_refused(vmm, db, account, snapshot):
    outside = pathlib.Path(tempfile.mkdtemp(prefix='vmm-test-outside-'))
    try:
        os.symlink(str(outside), account / 'sieve')
        state = snapshot()
        result = vmm('uv', 'a@example.org', '--on', '-m', 'Away.')
        assert result.code == 67, result
        assert 'symbolic link' in result.err
        assert os.listdir(outside) == []
        assert snapshot() == state
        os.unlink(account / 'sieve')

        secret = outside / 'secret.sieve'
        secret.write_text('keep;\n')
        for target in (str(secret), '../../x.sieve', 'sieve/../../x.sieve',
                       'sieve/a/b.sieve', 'sieve/x.txt'):
            os.symlink(target, account / '.dovecot.sieve')
            state = snapshot()
            result = vmm('uv', 'a@example.org', '--on', '-m', 'Away.')
            assert result.code == 67, (target, result)
            assert snapshot() == state
            assert os.readlink(account / '.dovecot.sieve') == target
            os.unlink(account / '.dovecot.sieve')
        assert secret.read_text() == 'keep;\n'
    finally:
        shutil.rmtree(outside)


@needs_root
def test_failed_commit_leaves_files_and_database(vmm, db, account, snapshot,
                                                 monkeypatch):
    uid, gid = ids_of(db, 'a@example.org')
    active = account / '.dovecot.sieve'
    active.write_text('keep;\n')
    os.chown(active, uid, gid)
    state = snapshot()
    from vmm import errors, handler

    def fail(self):
        raise errors.DatabaseError('the commit failed')
    monkeypatch.setattr(handler.Handler, '_write_log', fail)
    result = vmm('uv', 'a@example.org', '--on', '-s', 'S', '-m', 'Away.')
    assert result.code == 35, result
    assert snapshot() == state
    assert not (account / 'sieve').exists()
    monkeypatch.undo()

    ok(vmm('uv', 'a@example.org', '--on', '-m', 'Away.'))
    state = snapshot()
    monkeypatch.setattr(handler.Handler, '_write_log', fail)
    assert vmm('uv', 'a@example.org', '--off').code == 35
    assert snapshot() == state
    assert vmm('uv', 'a@example.org', '--on', '-m', 'New.').code == 35
    assert snapshot() == state


@needs_root
def test_show(vmm, db, account):
    out = ok(vmm('uv', 'a@example.org', '--show')).out
    assert re.search(r'Status\.*: off \(never set\)', out)
    ok(vmm('uv', 'a@example.org', '--on', '-s', 'Weg "jetzt"', '-m',
           'Zeile 1\n\tZeile 2', '--until', '2999-12-31', '--days', '2'))
    before = log_count(db)
    out = ok(vmm('uv', 'a@example.org', '--show')).out
    assert log_count(db) == before
    for pattern in (r'Address\.*: a@example\.org', r'Status\.*: on\n',
                    r'Subject\.*: Weg "jetzt"\n', r'From\.*: none',
                    r'Until\.*: 2999-12-31', r'Days\.*: 2 ',
                    r"User's own script\.*: none",
                    r'Message\n-------\n\tZeile 1\n\t\tZeile 2\n'):
        assert re.search(pattern, out), (pattern, out)
    import json
    document = json.loads(ok(vmm('--json', 'uv', 'a@example.org',
                                 '--show')).out)
    assert document == {
        'vacation': {'address': 'a@example.org', 'status': 'on',
                     'subject': 'Weg "jetzt"', 'from': None,
                     'until': '2999-12-31', 'days': 2,
                     'sieve_script': 'active', 'user_script': None},
        'message': 'Zeile 1\n\tZeile 2'}
    ok(vmm('uv', 'a@example.org', '--on', '-m', 'x', '--from',
           '2999-01-01'))
    assert 'Status' in ok(vmm('uv', 'a@example.org', '--show')).out
    assert re.search(r'Status\.*: on, from 2999-01-01',
                     vmm('uv', 'a@example.org', '--show').out)
    result = ok(vmm('uv', 'a@example.org', '--on', '-m', 'x', '--until',
                    '2000-01-01'))
    assert 'no replies will be sent' in result.err
    ok(vmm('uv', 'a@example.org', '--off'))
    out = ok(vmm('uv', 'a@example.org', '--show')).out
    assert re.search(r'Status\.*: off\n', out)
    assert re.search(r'Sieve script\.*: not active', out)


@needs_root
def test_message_file(vmm, db, account, tmp_path):
    path = tmp_path / 'away.txt'
    path.write_bytes('\ufeffGrüße,\r\nbin weg.\r\n'.encode('utf-8'))
    ok(vmm('uv', 'a@example.org', '--on', '--message-file', str(path)))
    assert vacation_row(db)[0][2] == 'Grüße,\nbin weg.'
    ok(vmm('uv', 'a@example.org', '--on', '--message-file', '-',
           input='Von der Standardeingabe.\n'))
    assert vacation_row(db)[0][2] == 'Von der Standardeingabe.'
    path.write_bytes(b'caf\xe9\n')
    result = vmm('uv', 'a@example.org', '--on', '--message-file', str(path))
    assert result.code == 44 and 'not UTF-8' in result.err, result
    result = vmm('uv', 'a@example.org', '--on', '--message-file',
                 str(tmp_path / 'missing'))
    assert result.code == 44, result
    assert vacation_row(db)[0][2] == 'Von der Standardeingabe.'


@needs_root
@pytest.mark.parametrize('args, code, text', [
    (['--on', '-s', 'a\nb', '-m', 'x'], 44, 'one line'),
    (['--on', '-s', 'tab\there', '-m', 'x'], 44, 'Invalid subject'),
    (['--on', '-m', ''], 44, 'must not be empty'),
    (['--on', '-m', 'a\x1bb'], 44, 'control character'),
    (['--on', '-m', 'x', '--from', '2030-02-01', '--until', '2030-01-31'],
     44, 'before it begins'),
    (['--on', '-m', 'x', '--days', '0'], 44, 'days'),
    (['--on', '-m', 'x', '--days', '3651'], 44, 'days'),
    (['--on', '-m', 'x', '--days', 'seven'], 2, 'days'),
    (['--on', '-m', 'x', '--from', '1.2.2030'], 2, 'YYYY-MM-DD'),
    (['--on', '-m', 'x', '--until', '2030-02-30'], 2, 'no such day'),
    (['--on', '-s', 'x'], 2, '--on needs'),
    (['--on', '-m', 'x', '--message-file', '-'], 2, 'not allowed'),
    (['--off', '-m', 'x'], 2, 'with --on only'),
    (['--show', '--days', '3'], 2, 'with --on only'),
    (['--on', '--off'], 2, 'not allowed'),
    ([], 2, 'required'),
])
def test_bad_arguments(vmm, db, account, snapshot, args, code, text):
    state = snapshot()
    result = vmm('uv', 'a@example.org', *args)
    assert result.code == code, result
    assert text in result.err, result
    assert 'Traceback' not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert snapshot() == state


@needs_root
def test_unknown_account_and_missing_home(vmm, db, account):
    assert vmm('uv', 'nobody@example.org', '--on', '-m', 'x').code == 52
    assert vmm('uv', 'nobody@example.org', '--show').code == 52
    assert vmm('uv', 'a@unknown.example', '--off').code == 57
    ok(vmm('uv', 'a@example.org', '--on', '-m', 'x'))
    shutil.rmtree(account)
    # Off works without the home (said so), on needs it.
    result = ok(vmm('uv', 'a@example.org', '--off'))
    assert 'does not exist' in result.err
    assert vacation_row(db)[0][0] is False
    result = vmm('uv', 'a@example.org', '--on', '-m', 'x')
    assert result.code == 56, result
    assert vacation_row(db)[0][0] is False
    out = ok(vmm('uv', 'a@example.org', '--show')).out
    assert re.search(r'Sieve script\.*: unknown: ', out)


@needs_root
def test_userdelete_removes_the_row(vmm, db, account):
    ok(vmm('uv', 'a@example.org', '--on', '-m', 'x'))
    ok(vmm('ud', 'a@example.org'))
    assert vacation_row(db) == []


def test_help_and_short_name(vmm):
    result = ok(vmm('help', 'uservacation'))
    assert '--message-file' in result.out
    result = vmm('uv', '-h')
    assert result.code == 0 and 'uservacation' in result.out


# ---------------------------------------------------------------------------
# End to end: the private Postfix and Dovecot
# ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def replies(mailservers):
    """Dovecot sends Sieve replies through the private Postfix (Dovecot's
    default is /usr/sbin/sendmail, the system's Postfix) for this module."""
    dovecot = mailservers.dovecot
    saved = dovecot.extra_conf
    dovecot.extra_conf = saved + '\nsubmission_host = 127.0.0.1:%d\n' \
        % mailservers.postfix.port
    dovecot.reload()
    yield mailservers
    dovecot.extra_conf = saved
    dovecot.reload()


@pytest.fixture
def db(request, db):
    """conftest's fresh database, or the servers' one for the end-to-end
    tests (so that conftest's vmm and snapshot work on it)."""
    if 'mail' in request.fixturenames:
        return request.getfixturevalue('mail_db')
    return db


@pytest.fixture
def mail(replies, mail_db):
    return replies


def maildir(db, address, folder=None):
    local, domain = address.split('@')
    box = db.lookup('postfix_virtual_mailbox_map', local, domain)[0][1]
    return os.path.join(box, '.' + folder) if folder else box


def read(path):
    with open(path, 'rb') as handle:
        return email.message_from_binary_file(handle,
                                              policy=email.policy.default)


def messages(path):
    return [read(p) for p in servers.maildir_messages(path)]


def send(mail, sender, recipient, subject, headers=None):
    """Mail from the local account *sender* (logged in) to *recipient*;
    wait until Dovecot has delivered it; the vacation outcome Pigeonhole
    logged for it ('sent', 'duplicate', 'list', 'bulk', an other text),
    or None when no vacation rule ran."""
    qid = mail.postfix.smtp_send(sender, recipient, subject=subject,
                                 headers=headers, login=sender,
                                 password='secret')
    status = mail.postfix.delivery_status(qid)
    assert [s['status'] for s in status] == ['sent'], status
    msgid = re.search(r'%s: message-id=<([^>]*)>' % qid,
                      mail.postfix.log()).group(1)
    mark = 'msgid=<%s>: ' % msgid
    done = re.compile(re.escape(mark) + r'(?:[a-z]+ action: )?(?:stored mail '
                      r'into mailbox|saved mail to)')
    assert servers.wait_for(lambda: done.search(mail.dovecot.log()), 20), \
        mail.dovecot.log()[-3000:]

    def actions():
        return [line.split(mark, 1)[1] for line in
                mail.dovecot.log().splitlines() if mark in line
                and 'vacation action' in line]
    # Pigeonhole logs a fileinto before the vacation action, the implicit
    # keep after it: give a vacation line a moment to show up.
    servers.wait_for(actions, 0.5)
    actions = actions()
    if not actions:
        return None
    assert len(actions) == 1, actions
    text = actions[0]
    for key, word in (('sent vacation response', 'sent'),
                      ('discarded duplicate', 'duplicate'),
                      ('mailinglist', 'list'), ('precedence=bulk', 'bulk')):
        if key in text:
            return word
    return text


def managesieve(mail, user, *commands):
    """Log in to ManageSieve and run *commands*: ('put', name, script),
    ('activate', name) or ('list',); the LISTSCRIPTS answers as a dict
    {name: active}."""
    import base64
    listed = {}
    with socket.create_connection(('127.0.0.1', mail.dovecot.sieve_port),
                                  timeout=15) as sock:
        reader = sock.makefile('rb')

        def response():
            lines = []
            while True:
                line = reader.readline()
                assert line, 'ManageSieve closed the connection'
                if line.startswith((b'OK', b'NO', b'BYE')):
                    assert line.startswith(b'OK'), (line, lines)
                    return lines
                lines.append(line.decode('utf-8').rstrip('\r\n'))
        response()
        token = base64.b64encode(('\0%s\0secret' % user).encode()).decode()
        sock.sendall(b'AUTHENTICATE "PLAIN" "%s"\r\n' % token.encode())
        response()
        for command in commands:
            if command[0] == 'put':
                data = command[2].encode('utf-8')
                sock.sendall(b'PUTSCRIPT "%s" {%d+}\r\n%s\r\n'
                             % (command[1].encode(), len(data), data))
                response()
            elif command[0] == 'activate':
                sock.sendall(b'SETACTIVE "%s"\r\n' % command[1].encode())
                response()
            else:
                sock.sendall(b'LISTSCRIPTS\r\n')
                for line in response():
                    match = re.match(r'"([^"]*)"( ACTIVE)?$', line)
                    listed[match.group(1)] = bool(match.group(2))
        sock.sendall(b'LOGOUT\r\n')
    return listed


WORK_FILTER = ('require ["fileinto", "mailbox"];\n'
               'if header :contains "subject" "[work]" {\n'
               '  fileinto :create "Work";\n}\n')

NASTY_SUBJECT = 'Re: "away" \\ "; discard; # } text: ${x} /* ü ☃'


def accounts(vmm, *names):
    ok(vmm('da', 'example.org'))
    ok(vmm('ada', 'example.net', 'example.org'))
    for name in names:
        ok(vmm('ua', name + '@example.org', '-p', 'secret'))


@pytest.mark.servers
@needs_root
def test_one_reply_per_sender_none_to_lists_none_after_off(vmm, db, mail):
    accounts(vmm, 'a', 'b', 'c', 'd', 'e')
    text = 'I am away until Monday.\n.\nLeading dot above; "quotes" \\ ü'
    ok(vmm('uv', 'a@example.org', '--on', '-s', NASTY_SUBJECT, '-m', text,
           '--days', '2'))

    assert send(mail, 'b@example.org', 'a@example.org', 'first') == 'sent'
    reply, = [read(p) for p in
              servers.wait_for_delivery(maildir(db, 'b@example.org'), 1)]
    assert str(reply['Subject']) == NASTY_SUBJECT
    assert reply.get_content().rstrip('\n') == text
    assert reply['From'].addresses[0].addr_spec == 'a@example.org'
    assert reply['To'].addresses[0].addr_spec == 'b@example.org'
    assert str(reply['Auto-Submitted']).startswith('auto-replied')
    assert reply['Return-Path'] == '<>'

    # The same sender within --days: no second reply.
    assert send(mail, 'b@example.org', 'a@example.org', 'again') == \
        'duplicate'
    # Mailing lists and bulk mail: none.
    assert send(mail, 'c@example.org', 'a@example.org', 'list',
                headers={'List-Id': '<team.example.org>'}) == 'list'
    assert send(mail, 'c@example.org', 'a@example.org', 'bulk',
                headers={'Precedence': 'bulk'}) == 'bulk'
    # Under the alias domain, from another sender: one reply.
    assert send(mail, 'd@example.org', 'a@example.net', 'alias') == 'sent'
    reply, = [read(p) for p in
              servers.wait_for_delivery(maildir(db, 'd@example.org'), 1)]
    assert reply['From'].addresses[0].addr_spec == 'a@example.net'

    ok(vmm('uv', 'a@example.org', '--off'))
    assert send(mail, 'e@example.org', 'a@example.org', 'after') is None
    assert len(messages(maildir(db, 'a@example.org'))) == 6
    assert messages(maildir(db, 'c@example.org')) == []
    assert messages(maildir(db, 'e@example.org')) == []
    assert len(messages(maildir(db, 'b@example.org'))) == 1
    assert mail.postfix.queue() == []


@pytest.mark.servers
@needs_root
def test_managesieve_script_keeps_filing(vmm, db, mail):
    accounts(vmm, 'a', 'b', 'c')
    home = home_of(db, 'a@example.org')
    assert managesieve(mail, 'a@example.org', ('put', 'mine', WORK_FILTER),
                       ('activate', 'mine'), ('list',)) == {'mine': True}
    link = os.readlink(home / '.dovecot.sieve')
    before = listing(home / 'sieve')

    ok(vmm('uv', 'a@example.org', '--on', '-s', 'Away', '-m', 'Away.'))
    assert managesieve(mail, 'a@example.org', ('list',)) == {
        'mine': False, 'vmm-vacation': True}
    assert send(mail, 'b@example.org', 'a@example.org', '[work] one') == \
        'sent'
    assert len(servers.wait_for_delivery(
        maildir(db, 'a@example.org', 'Work'), 1)) == 1
    assert messages(maildir(db, 'a@example.org')) == []
    servers.wait_for_delivery(maildir(db, 'b@example.org'), 1)

    ok(vmm('uv', 'a@example.org', '--off'))
    assert os.readlink(home / '.dovecot.sieve') == link
    assert managesieve(mail, 'a@example.org', ('list',)) == {'mine': True}
    after = {name: value for name, value in listing(home / 'sieve').items()
             if not name.endswith('.svbin') and name != 'tmp'}
    assert after == {name: value for name, value in before.items()
                     if not name.endswith('.svbin') and name != 'tmp'}
    assert send(mail, 'c@example.org', 'a@example.org', '[work] two') is None
    assert len(servers.wait_for_delivery(
        maildir(db, 'a@example.org', 'Work'), 2)) == 2
    assert messages(maildir(db, 'c@example.org')) == []


@pytest.mark.servers
@needs_root
def test_plain_dovecot_sieve_keeps_filing(vmm, db, mail):
    accounts(vmm, 'a', 'b', 'c')
    home = home_of(db, 'a@example.org')
    uid, gid = ids_of(db, 'a@example.org')
    active = home / '.dovecot.sieve'
    active.write_text(WORK_FILTER)
    os.chown(active, uid, gid)
    os.chmod(active, 0o600)
    original = os.stat(active)
    assert send(mail, 'b@example.org', 'a@example.org', '[work] zero') is None
    servers.wait_for_delivery(maildir(db, 'a@example.org', 'Work'), 1)

    ok(vmm('uv', 'a@example.org', '--on', '-m', 'First text.'))
    ok(vmm('uv', 'a@example.org', '--on', '-s', 'Away', '-m',
           'Second text.'))
    assert send(mail, 'b@example.org', 'a@example.org', '[work] one') == \
        'sent'
    servers.wait_for_delivery(maildir(db, 'a@example.org', 'Work'), 2)
    reply, = [read(p) for p in
              servers.wait_for_delivery(maildir(db, 'b@example.org'), 1)]
    assert reply.get_content().rstrip('\n') == 'Second text.'

    ok(vmm('uv', 'a@example.org', '--off'))
    now = os.lstat(active)
    assert stat.S_ISREG(now.st_mode)
    assert (now.st_ino, now.st_mode, now.st_uid, now.st_gid) == \
        (original.st_ino, original.st_mode, original.st_uid,
         original.st_gid)
    assert active.read_text() == WORK_FILTER
    assert sorted(n for n in os.listdir(home / 'sieve')
                  if n.endswith('.sieve')) == []
    assert send(mail, 'c@example.org', 'a@example.org', '[work] two') is None
    assert len(servers.wait_for_delivery(
        maildir(db, 'a@example.org', 'Work'), 3)) == 3
    assert messages(maildir(db, 'a@example.org')) == []
    assert messages(maildir(db, 'c@example.org')) == []


@needs_root
def test_concurrent_runs_leave_a_consistent_home(vmm, db, account):
    """Runs for one account are serialised (row lock, then a flock of the
    home until the files are renamed): whatever the order, the user's file
    survives and the files agree with the database."""
    import concurrent.futures
    uid, gid = ids_of(db, 'a@example.org')
    active = account / '.dovecot.sieve'
    active.write_text('keep;\n')
    os.chown(active, uid, gid)
    inode = os.stat(active).st_ino
    runs = [('--on', '-m', 'Away %d.' % n) if n % 2 == 0 else ('--off',)
            for n in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda args: vmm('uv', 'a@example.org', *args, subprocess=True),
            runs))
    assert all(r.code == 0 for r in results), results
    files = listing(account)
    assert [n for n in files if 'tmp-' in n] == []
    if vacation_row(db)[0][0]:
        assert os.readlink(active) == 'sieve/vmm-vacation.sieve'
        saved = [n for n in files if n.startswith('sieve/vmm-saved')]
        assert [os.stat(account / n).st_ino for n in saved] == [inode]
        ok(vmm('uv', 'a@example.org', '--off'))
    assert os.lstat(active).st_ino == inode
    assert active.read_text() == 'keep;\n'
    assert [n for n in listing(account) if n.startswith('sieve/')] == []


@needs_root
def test_in_a_batch(vmm, db, account, snapshot):
    """Inside one batch transaction the files change at its commit: an
    account's vacation may change once per batch (a second change would
    be planned from files the first has not changed yet)."""
    ok(vmm('ua', 'b@example.org', '-p', 'secret'))
    active = account / '.dovecot.sieve'
    active.write_text('keep;\n')
    state = snapshot()
    twice = 'uv a@example.org --on -m "Away."\nuv a@example.org --off\n'
    result = vmm('batch', input=twice, subprocess=True)
    assert result.code == 67, result
    assert 'once per batch' in result.err
    assert snapshot() == state

    result = vmm('batch', '--continue-on-error', input=twice,
                 subprocess=True)
    assert result.code == 67, result
    assert vacation_row(db) == [(True, '', 'Away.', None, None, 7)]
    assert os.readlink(active) == 'sieve/vmm-vacation.sieve'

    result = vmm('batch', input='uv b@example.org --on --message-file -\n'
                 'uv b@example.org --off -s x\n', subprocess=True)
    assert result.code == 2, result
    assert 'inside a batch' in result.err and 'nothing was changed' in \
        result.err
    result = vmm('batch', '--continue-on-error',
                 input='uv b@example.org --off -s x\n'
                 'uv b@example.org --on\nuv b@example.org --show\n',
                 subprocess=True)
    assert result.code == 2, result
    assert result.err.count('see `vmm help uservacation`') == 2, result.err
    assert 'off (never set)' in result.out

    result = ok(vmm('batch', input='uv a@example.org --off\n'
                    'uv a@example.org --show\n'
                    'uv b@example.org --on -m "B away."\n'
                    'uv b@example.org --show\n', subprocess=True))
    assert result.out.count('changed when the batch commits') == 2
    assert active.read_text() == 'keep;\n' and not active.is_symlink()
    assert os.readlink(home_of(db, 'b@example.org') / '.dovecot.sieve') \
        == 'sieve/vmm-vacation.sieve'
