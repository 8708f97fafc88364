"""vmm.mailbox: folder names, modified UTF-7, the directory jail, mailbox
creation (checked against a real, private Dovecot) and disk usage."""

import os
import shutil
import stat
import subprocess
import tempfile
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmm import errors, mailbox
from vmm import jail as jail_module
from vmm.errors import VMMError
from vmm.jail import DirectoryJail, remove_tree_at
from vmm.mailbox import (
    create_mailbox,
    disk_usage,
    imap_utf7_decode,
    imap_utf7_encode,
    parse_folders,
)

from conftest import require, skip_unless

UID, GID = 70001, 70000
IS_ROOT = os.geteuid() == 0
DOVEADM = shutil.which('doveadm') or '/usr/bin/doveadm'
DOVECOT = shutil.which('dovecot') or '/usr/sbin/dovecot'
HAS_DOVECOT = IS_ROOT and os.access(DOVEADM, os.X_OK) \
    and os.access(DOVECOT, os.X_OK)
needs_root = skip_unless(IS_ROOT, 'needs root (chown)')
needs_dovecot = skip_unless(HAS_DOVECOT,
                            'needs root and Dovecot (dovecot, doveadm)')


def traversable_dir(prefix):
    """A fresh directory every user may traverse (0711), in the system's
    temporary directory: pytest's tmp_path lives below a 0700 directory, and
    Dovecot runs as the account's uid, which must reach the home."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o711)
    return path


@pytest.fixture
def base():
    path = traversable_dir('vmm-test-mailbox-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def tree(path):
    """Everything below *path*: relative name, type+mode, owner, link."""
    found = []
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            st_ = os.lstat(full)
            link = os.readlink(full) if stat.S_ISLNK(st_.st_mode) else None
            found.append((os.path.relpath(full, path), st_.st_mode,
                          st_.st_uid, st_.st_gid, link))
    return sorted(found)


def owner_mode(path):
    st_ = os.lstat(path)
    return st_.st_uid, st_.st_gid, stat.S_IMODE(st_.st_mode)


# ---------------------------------------------------------------------------
# parse_folders
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('Drafts:Sent:Templates:Trash', ('Drafts', 'Sent', 'Templates', 'Trash')),
    ('', ()),
    ('   ', ()),
    ('Sent', ('Sent',)),
    (' Drafts : Sent ', ('Drafts', 'Sent')),
    ('Lists.Dovecot', ('Lists.Dovecot',)),
    ('Lists:Lists.Dovecot:Lists.Postfix.Users',
     ('Lists', 'Lists.Dovecot', 'Lists.Postfix.Users')),
    ('Entwürfe:Корзина:送信済み:𝄞', ('Entwürfe', 'Корзина', '送信済み', '𝄞')),
    ('a&b:Old mail:INBOX.x:-x', ('a&b', 'Old mail', 'INBOX.x', '-x')),
])
def test_parse_folders_good(text, expected):
    assert parse_folders(text) == expected


@pytest.mark.parametrize('text', [
    'a::b', 'a:', ':a', ':', '.a', 'a.', 'a..b', '..', '.', 'a/b', '/',
    'a\0b', 'a\x01b', 'a\x7f', 'a\tb', 'a\nb', 'a\x85b', '~a', 'a.~b',
    'INBOX', 'inbox', 'Sent:Sent', 'a*', 'a%b', 'a. b', 'a .b', 'x' * 255,
    'a\udcffb',
])
def test_parse_folders_bad(text):
    with pytest.raises(ValueError) as info:
        parse_folders(text)
    assert str(info.value)


def test_parse_folders_longest_name():
    assert parse_folders('x' * 254) == ('x' * 254,)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_folders_random_text(text):
    try:
        result = parse_folders(text)
    except ValueError as err:
        assert str(err)
        return
    assert isinstance(result, tuple)
    for name in result:
        assert isinstance(name, str) and name
        assert '/' not in name and '\0' not in name and '..' not in name
        assert not name.startswith('.') and not name.endswith('.')
    assert parse_folders(':'.join(result)) == result


# ---------------------------------------------------------------------------
# IMAP modified UTF-7
# ---------------------------------------------------------------------------

# The vectors of RFC 3501 5.1.3 and names Dovecot 2.3 itself wrote to disk.
UTF7_VECTORS = [
    ('INBOX', 'INBOX'),
    ('', ''),
    ('&', '&-'),
    ('a&b', 'a&-b'),
    ('a&-', 'a&--'),
    ('Entwürfe', 'Entw&APw-rfe'),
    ('~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'),
    ('ä€𝄞', '&AOQgrNg03R4-'),
    ('Gelöschte Elemente', 'Gel&APY-schte Elemente'),
    ('Корзина', '&BBoEPgRABDcEOAQ9BDA-'),
    ('\u263a!', '&Jjo-!'),
]


@pytest.mark.parametrize('text, encoded', UTF7_VECTORS)
def test_imap_utf7_vectors(text, encoded):
    assert imap_utf7_encode(text) == encoded
    assert imap_utf7_decode(encoded) == text


@pytest.mark.parametrize('bad', ['&', '&Jjo', 'a&AOQ', 'é', '&Jj/-', '&A-',
                                 '&AOQ=-', 'a\tb'])
def test_imap_utf7_decode_rejects(bad):
    with pytest.raises(ValueError):
        imap_utf7_decode(bad)


def test_imap_utf7_encode_rejects_lone_surrogate():
    with pytest.raises(ValueError):
        imap_utf7_encode('a\ud800b')


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=('Cs',))))
def test_imap_utf7_round_trip(text):
    encoded = imap_utf7_encode(text)
    assert all('\x20' <= c <= '\x7e' for c in encoded)
    assert imap_utf7_decode(encoded) == text


# ---------------------------------------------------------------------------
# Privileges
# ---------------------------------------------------------------------------

def test_require_root(monkeypatch, base):
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    with pytest.raises(VMMError) as info:
        jail_module.require_root()
    assert info.value.code == errors.VMM_ERROR
    assert 'root' in info.value.msg
    jail = DirectoryJail(base)
    before = tree(base)
    for call in (lambda: jail.make_domain_directory(base + '/a/70000', GID,
                                                    0o770),
                 lambda: jail.make_home(base + '/a/70000/70001', UID, GID,
                                        0o700),
                 lambda: create_mailbox(base, UID, GID, 0o700, 'maildir',
                                        'Maildir', (), False, 'u@x')):
        with pytest.raises(VMMError) as info:
            call()
        assert info.value.code == errors.VMM_ERROR
        assert 'root' in info.value.msg
    assert tree(base) == before


@needs_root
def test_require_root_as_root():
    jail_module.require_root()


# ---------------------------------------------------------------------------
# The directory jail
# ---------------------------------------------------------------------------

@pytest.fixture
def jail_setup(base, tmp_path):
    """A base with a domain and a home, and a directory outside it."""
    outside = tmp_path / 'outside'
    (outside / '70000').mkdir(parents=True)
    (outside / '70000' / 'precious').write_text('keep me')
    jail = DirectoryJail(base)
    if IS_ROOT:
        jail.make_domain_directory(base + '/a/70000', GID, 0o770)
        jail.make_home(base + '/a/70000/70001', UID, GID, 0o700)
    else:
        os.makedirs(base + '/a/70000/70001')
    return jail, str(outside)


def refusals(base, outside):
    """(description, operation) pairs that must all be refused."""
    os.symlink(outside, base + '/5')                    # base/5 -> outside
    os.symlink(outside + '/70000', base + '/a/70000/70002')
    os.symlink('/', base + '/a/root')
    return [
        ('symlink parent, domain', lambda j: j.make_domain_directory(
            base + '/5/70009', GID, 0o770)),
        ('symlink parent, home', lambda j: j.make_home(
            base + '/5/70000/70001', UID, GID, 0o700)),
        ('symlink as home', lambda j: j.make_home(
            base + '/a/70000/70002', UID, GID, 0o700)),
        ('remove symlink', lambda j: j.check_directory(base + '/5')),
        ('remove through symlink', lambda j: j.check_directory(
            base + '/5/70000')),
        ('remove symlinked home', lambda j: j.check_directory(
            base + '/a/70000/70002')),
        ('remove through symlink to /', lambda j: j.check_directory(
            base + '/a/root/tmp')),
        ('dotdot', lambda j: j.make_domain_directory(
            base + '/../escape', GID, 0o770)),
        ('dotdot inside', lambda j: j.make_domain_directory(
            base + '/a/../b/70000', GID, 0o770)),
        ('dotdot remove', lambda j: j.check_directory(base + '/a/..')),
        ('dotdot remove 2', lambda j: j.check_directory(
            base + '/a/70000/../..')),
        ('outside', lambda j: j.make_domain_directory(
            outside + '/70001', GID, 0o770)),
        ('outside remove', lambda j: j.check_directory(outside + '/70000')),
        ('sibling prefix', lambda j: j.make_domain_directory(
            base + '-evil/a/70000', GID, 0o770)),
        ('sibling prefix remove', lambda j: j.check_directory(base + '-evil')),
        ('relative', lambda j: j.make_domain_directory(
            'a/70003', GID, 0o770)),
        ('relative remove', lambda j: j.check_directory('a/70000')),
        ('base itself', lambda j: j.make_domain_directory(base, GID, 0o770)),
        ('base itself home', lambda j: j.make_home(base + '/', UID, GID,
                                                   0o700)),
        ('remove base', lambda j: j.check_directory(base)),
        ('remove base slash', lambda j: j.check_directory(base + '/')),
        ('remove base dot', lambda j: j.check_directory(base + '/.')),
        ('remove /', lambda j: j.check_directory('/')),
        ('NUL', lambda j: j.check_directory(base + '/a\0b')),
        ('existing domain', lambda j: j.make_domain_directory(
            base + '/a/70000', GID, 0o770)),
        ('existing home', lambda j: j.make_home(
            base + '/a/70000/70001', UID, GID, 0o700)),
    ]


@needs_root
def test_jail_refusals_change_nothing(jail_setup, base):
    jail, outside = jail_setup
    cases = refusals(base, outside)
    before = (tree(base), tree(outside))
    for description, operation in cases:
        with pytest.raises(VMMError) as info:
            operation(jail)
        assert info.value.code == errors.VMM_ERROR, description
        assert info.value.msg and '\n' not in info.value.msg, description
        assert (tree(base), tree(outside)) == before, description
    assert open(outside + '/70000/precious').read() == 'keep me'


@needs_root
def test_jail_refuses_symlinked_intermediate_for_new_parent(base, tmp_path):
    # The hex-digit directory is a symlink: no domain may be created in it.
    os.symlink(str(tmp_path), base + '/c')
    before = tree(str(tmp_path))
    with pytest.raises(VMMError) as info:
        DirectoryJail(base).make_domain_directory(base + '/c/70000', GID,
                                                  0o770)
    assert 'symbolic link' in info.value.msg
    assert tree(str(tmp_path)) == before


def test_jail_needs_absolute_base():
    with pytest.raises(VMMError) as info:
        DirectoryJail('srv/mail')
    assert info.value.code == errors.VMM_ERROR


@needs_root
def test_jail_missing_base(tmp_path):
    jail = DirectoryJail(str(tmp_path / 'nope'))
    with pytest.raises(VMMError) as info:
        jail.make_domain_directory(str(tmp_path / 'nope/a/70000'), GID,
                                   0o770)
    assert info.value.code == errors.NO_SUCH_DIRECTORY
    assert not (tmp_path / 'nope').exists()


@needs_root
def test_jail_base_through_symlink(base, tmp_path):
    link = str(tmp_path / 'mail')
    os.symlink(base, link)
    jail = DirectoryJail(link)
    jail.make_domain_directory(link + '/b/70000', GID, 0o770)
    # The real-path spelling of the same place is inside the jail as well.
    jail.make_home(base + '/b/70000/70001', UID, GID, 0o700)
    assert owner_mode(base + '/b/70000/70001') == (UID, GID, 0o700)
    assert jail.check_directory(link + '/b/70000') is True


@needs_root
def test_make_domain_directory_and_home(base):
    jail = DirectoryJail(base)
    old_umask = os.umask(0o077)         # modes must not depend on the umask
    try:
        path = jail.make_domain_directory(base + '/e/70000', GID, 0o770)
        jail.make_domain_directory(base + '/e/70010', 70010, 0o750)
        home = jail.make_home(base + '/e/70000/70001', UID, GID, 0o700)
        home2 = jail.make_home(base + '/e/70000/70002', 70002, GID, 0o750)
    finally:
        os.umask(old_umask)
    assert path == base + '/e/70000' and home == base + '/e/70000/70001'
    assert owner_mode(base + '/e') == (0, 0, jail_module.HASH_DIRECTORY_MODE)
    assert jail_module.HASH_DIRECTORY_MODE == 0o711
    assert owner_mode(base + '/e/70000') == (0, GID, 0o770)
    assert owner_mode(base + '/e/70010') == (0, 70010, 0o750)
    assert owner_mode(home) == (UID, GID, 0o700)
    assert owner_mode(home2) == (70002, GID, 0o750)
    assert sorted(os.listdir(base)) == ['e']
    assert os.listdir(home) == []


@needs_root
def test_make_home_needs_domain_directory(base):
    jail = DirectoryJail(base)
    with pytest.raises(VMMError) as info:
        jail.make_home(base + '/f/70000/70001', UID, GID, 0o700)
    assert info.value.code == errors.NO_SUCH_DIRECTORY
    assert os.listdir(base) == []


@needs_root
def test_new_domain_paths(base):
    paths = DirectoryJail(base).new_domain_paths(70123)
    assert sorted(os.path.basename(os.path.dirname(p)) for p in paths) \
        == list('0123456789abcdef')
    for path in paths:
        parent, gid = os.path.split(path)
        assert gid == '70123'
        assert os.path.dirname(parent) == base


@needs_root
def test_move_out_and_remove_tree(jail_setup, base):
    jail, outside = jail_setup
    home = base + '/a/70000/70001'
    os.makedirs(home + '/Maildir/cur')
    with open(home + '/Maildir/cur/1.mail', 'w') as handle:
        handle.write('x')
    # A symlink inside the tree is removed, never followed.
    os.symlink(outside, home + '/Maildir/evil')
    before_outside = tree(outside)
    trash_fd = os.open(base + '/a', os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert jail.move_out(home, trash_fd, 'gone') is True
        assert not os.path.lexists(home)
        assert os.path.isfile(base + '/a/gone/Maildir/cur/1.mail')
        remove_tree_at(trash_fd, 'gone')
        remove_tree_at(trash_fd, 'gone')        # gone already: fine
        assert jail.move_out(home, trash_fd, 'gone') is False
    finally:
        os.close(trash_fd)
    assert sorted(os.listdir(base + '/a')) == ['70000']
    assert os.listdir(base + '/a/70000') == []
    assert tree(outside) == before_outside


@needs_root
def test_move_into_place_makes_parents(jail_setup, base):
    jail, _ = jail_setup
    src_fd = os.open(base + '/a/70000', os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert jail.move(src_fd, '70001', base + '/9/8/70001',
                         parents=True) is True
        os.mkdir(base + '/a/70000/70001')
        # An existing target is left alone, nothing is moved.
        assert jail.move(src_fd, '70001', base + '/9/8/70001') is False
    finally:
        os.close(src_fd)
    assert owner_mode(base + '/9') == (0, 0, 0o711)
    assert owner_mode(base + '/9/8') == (0, 0, 0o711)
    assert owner_mode(base + '/9/8/70001')[:2] == (UID, GID)
    assert os.path.isdir(base + '/a/70000/70001')


# ---------------------------------------------------------------------------
# Mailboxes on disk
# ---------------------------------------------------------------------------

FOLDERS = ('Drafts', 'Sent', 'Lists.Dovecot', 'Entwürfe', 'a&b',
           'Archiv.2024.Q1')
#: Parents that Dovecot shows although no directory exists for them.
IMPLIED = ('Lists', 'Archiv', 'Archiv.2024')


@pytest.fixture
def home(base):
    require(IS_ROOT, 'needs root')
    jail = DirectoryJail(base)
    jail.make_domain_directory(base + '/a/70000', GID, 0o770)
    return jail.make_home(base + '/a/70000/70001', UID, GID, 0o700)


def expected_maildir(mode, folders, subscribed):
    file_mode = stat.S_IFREG | (mode & 0o666)
    dir_mode = stat.S_IFDIR | mode
    entries = [('Maildir', dir_mode)]
    entries += [('Maildir/' + sub, dir_mode) for sub in ('cur', 'new', 'tmp')]
    for disk in folders:
        entries.append(('Maildir/' + disk, dir_mode))
        entries += [('Maildir/%s/%s' % (disk, sub), dir_mode)
                    for sub in ('cur', 'new', 'tmp')]
        entries.append(('Maildir/%s/maildirfolder' % disk, file_mode))
    if subscribed:
        entries.append(('Maildir/subscriptions', file_mode))
    return sorted((name, mode_, UID, GID, None) for name, mode_ in entries)


def test_create_maildir_tree(home):
    path = create_mailbox(home, UID, GID, 0o750, 'maildir', 'Maildir',
                          FOLDERS, True, 'user@example.org')
    assert path == home + '/Maildir'
    on_disk = ['.Drafts', '.Sent', '.Lists.Dovecot', '.Entw&APw-rfe',
               '.a&-b', '.Archiv.2024.Q1']
    assert tree(home) == expected_maildir(0o750, on_disk, True)
    for disk in on_disk:
        assert os.path.getsize(home + '/Maildir/%s/maildirfolder' % disk) == 0
    with open(home + '/Maildir/subscriptions', 'rb') as handle:
        assert handle.read() == (b'V\t2\n\nDrafts\nSent\nLists\tDovecot\n'
                                 b'Entw&APw-rfe\na&-b\nArchiv\t2024\tQ1\n')


def test_create_maildir_without_subscriptions(home):
    create_mailbox(home, UID, GID, 0o700, 'maildir', 'Mail', 'Trash:Sent',
                   False, 'user@example.org')
    expected = [(name.replace('Maildir', 'Mail', 1), m, u, g, link)
                for name, m, u, g, link in
                expected_maildir(0o700, ['.Trash', '.Sent'], False)]
    assert tree(home) == sorted(expected)


def test_create_maildir_without_folders(home):
    create_mailbox(home, UID, GID, 0o700, 'maildir', 'Maildir', (), True,
                   'user@example.org')
    assert tree(home) == expected_maildir(0o700, [], False)


@pytest.mark.parametrize('fmt, root, folders, code', [
    ('mbox', 'Maildir', (), errors.MAILLOCATION_INIT),
    ('', 'Maildir', (), errors.MAILLOCATION_INIT),
    ('maildir', '..', (), errors.MAILLOCATION_INIT),
    ('maildir', 'a/b', (), errors.MAILLOCATION_INIT),
    ('maildir', '', (), errors.MAILLOCATION_INIT),
    ('maildir', 'Maildir', ('a..b',), errors.MAILLOCATION_INIT),
    ('maildir', 'Maildir', ('INBOX',), errors.MAILLOCATION_INIT),
    ('sdbox', 'Maildir', ('x/y',), errors.MAILLOCATION_INIT),
])
def test_create_mailbox_refuses(home, fmt, root, folders, code):
    with pytest.raises(VMMError) as info:
        create_mailbox(home, UID, GID, 0o700, fmt, root, folders, True,
                       'user@example.org')
    assert info.value.code == code
    assert os.listdir(home) == []


def test_create_mailbox_existing_root(home):
    create_mailbox(home, UID, GID, 0o700, 'maildir', 'Maildir', ('Sent',),
                   True, 'user@example.org')
    before = tree(home)
    with pytest.raises(VMMError) as info:
        create_mailbox(home, UID, GID, 0o700, 'maildir', 'Maildir',
                       ('Trash',), True, 'user@example.org')
    assert info.value.code == errors.MAILLOCATION_INIT
    assert tree(home) == before


@needs_root
def test_create_mailbox_missing_home(base):
    with pytest.raises(VMMError) as info:
        create_mailbox(base + '/nohome', UID, GID, 0o700, 'maildir',
                       'Maildir', (), True, 'user@example.org')
    assert info.value.code == errors.NO_SUCH_DIRECTORY
    assert os.listdir(base) == []


def test_create_maildir_failure_half_way_removes_it(home, monkeypatch):
    real_write = mailbox.write_file_at

    def failing_write(name, *args, **kwargs):
        if name == 'subscriptions':
            raise OSError(28, 'No space left on device')
        return real_write(name, *args, **kwargs)
    monkeypatch.setattr(mailbox, 'write_file_at', failing_write)
    with pytest.raises(VMMError) as info:
        create_mailbox(home, UID, GID, 0o700, 'maildir', 'Maildir', FOLDERS,
                       True, 'user@example.org')
    assert info.value.code == errors.MAILLOCATION_INIT
    assert 'No space left' in info.value.msg
    assert os.listdir(home) == []


def test_create_dbox_doveadm_missing_or_not_executable(home, tmp_path):
    not_executable = tmp_path / 'doveadm'
    not_executable.write_text('#!/bin/sh\n')
    not_executable.chmod(0o644)
    for doveadm, code in ((str(tmp_path / 'missing'), errors.NO_SUCH_BINARY),
                          (str(not_executable), errors.NOT_EXECUTABLE),
                          (str(tmp_path), errors.NOT_EXECUTABLE)):
        with pytest.raises(VMMError) as info:
            create_mailbox(home, UID, GID, 0o700, 'sdbox', 'mdbox', FOLDERS,
                           True, 'user@example.org', doveadm=doveadm)
        assert info.value.code == code
        assert os.listdir(home) == []


@pytest.mark.parametrize('fmt', ['sdbox', 'mdbox'])
def test_create_dbox_doveadm_failure_removes_it(home, tmp_path, fmt):
    fake = tmp_path / 'doveadm'
    fake.write_text('#!/bin/sh\n'
                    'mkdir -p "$(pwd)/x"\n'
                    'echo "doveadm(u): Info: starting" >&2\n'
                    'echo "doveadm(u): Error: Mailbox quota exploded" >&2\n'
                    'echo "doveadm(u): Error: second line" >&2\n'
                    'exit 75\n')
    fake.chmod(0o755)
    with pytest.raises(VMMError) as info:
        create_mailbox(home, UID, GID, 0o700, fmt, 'mdbox', FOLDERS, True,
                       'user@example.org', doveadm=str(fake))
    assert info.value.code == errors.MAILLOCATION_INIT
    assert 'Mailbox quota exploded' in info.value.msg
    assert 'second line' not in info.value.msg
    assert os.listdir(home) == []


# ---------------------------------------------------------------------------
# Dovecot reads what we made: a private Dovecot with a static userdb
# ---------------------------------------------------------------------------

class PrivateDovecot:
    """A Dovecot instance of the test's own: no protocols, no listeners of
    its own beyond its private sockets, a static userdb.

    User ``NAME@FORMAT`` has uid 70001, gid 70000, home ``HOMES/NAME`` and
    ``mail = FORMAT:~/Maildir`` (default layout); the namespace separator is
    ``.``, so names compare equal across the three formats.
    """

    def __init__(self, directory, homes):
        self.directory = directory
        self.conf = os.path.join(directory, 'dovecot.conf')
        self.log = os.path.join(directory, 'dovecot.log')
        self.run_dir = os.path.join(directory, 'run')
        os.mkdir(self.run_dir)
        os.mkdir(os.path.join(directory, 'state'))
        with open(self.conf, 'w', encoding='utf-8') as handle:
            handle.write(f"""\
base_dir = {self.run_dir}
state_dir = {directory}/state
log_path = {self.log}
protocols =
listen = 127.0.0.1
ssl = no
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = .
}}
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid={UID} gid={GID} home={homes}/%n mail=%d:~/Maildir
}}
""")

    def start(self):
        subprocess.run([DOVECOT, '-c', self.conf], check=True,
                       stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.run_dir, 'auth-userdb')):
            assert time.monotonic() < deadline, 'dovecot did not start'
            time.sleep(0.02)
        return self

    def stop(self):
        pidfile = os.path.join(self.run_dir, 'master.pid')
        try:
            with open(pidfile) as handle:
                pid = int(handle.read().strip())
        except (OSError, ValueError):
            return
        os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)

    def doveadm(self, *args):
        proc = subprocess.run([DOVEADM, '-c', self.conf] + list(args),
                              capture_output=True, text=True,
                              env={'PATH': '/usr/bin:/bin', 'LC_ALL': 'C'},
                              stdin=subprocess.DEVNULL, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def mailboxes(self, user, subscribed=False):
        args = ['mailbox', 'list'] + (['-s'] if subscribed else [])
        return sorted(self.doveadm(*(args + ['-u', user])).splitlines())


@pytest.fixture(scope='module')
def dovecot():
    """(server, jail, domain directory) shared by the Dovecot tests."""
    require(HAS_DOVECOT, 'needs root and Dovecot')
    run = traversable_dir('vmm-test-dovecot-')
    os.chmod(run, 0o755)
    mail = traversable_dir('vmm-test-mail-')
    jail = DirectoryJail(mail)
    domain = jail.make_domain_directory(mail + '/d/70000', GID, 0o770)
    server = PrivateDovecot(run, domain).start()
    try:
        yield server, jail, domain
    finally:
        server.stop()
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(mail, ignore_errors=True)


@needs_dovecot
@pytest.mark.parametrize('fmt', ['maildir', 'sdbox', 'mdbox'])
def test_dovecot_reads_the_mailbox(dovecot, fmt):
    server, jail, domain = dovecot
    name = 'full-' + fmt
    home = jail.make_home(domain + '/' + name, UID, GID, 0o700)
    create_mailbox(home, UID, GID, 0o700, fmt, 'Maildir', FOLDERS, True,
                   '%s@%s' % (name, fmt), doveadm=DOVEADM)
    user = '%s@%s' % (name, fmt)
    assert server.mailboxes(user) == sorted(('INBOX',) + FOLDERS + IMPLIED)
    assert server.mailboxes(user, subscribed=True) == sorted(FOLDERS)
    # Everything belongs to the account; no directory is open to others.
    for entry, mode, uid, gid, link in tree(home):
        assert (uid, gid, link) == (UID, GID, None), entry
        if stat.S_ISDIR(mode):
            assert stat.S_IMODE(mode) == 0o700, entry
    status = server.doveadm('mailbox', 'status', '-u', user, 'messages',
                            'Entwürfe')
    assert status.strip() == 'Entwürfe messages=0'


@needs_dovecot
@pytest.mark.parametrize('fmt', ['maildir', 'sdbox'])
def test_dovecot_without_subscriptions(dovecot, fmt):
    server, jail, domain = dovecot
    name = 'nosubs-' + fmt
    home = jail.make_home(domain + '/' + name, UID, GID, 0o700)
    # A name that looks like an option must reach doveadm as a name.
    create_mailbox(home, UID, GID, 0o700, fmt, 'Maildir', ('-s', 'Trash'),
                   False, name, doveadm=DOVEADM)
    user = '%s@%s' % (name, fmt)
    assert server.mailboxes(user) == ['-s', 'INBOX', 'Trash']
    assert server.mailboxes(user, subscribed=True) == []


@needs_dovecot
def test_maildir_matches_what_dovecot_writes(dovecot):
    """Dovecot's own ``mailbox create -s`` gives the same folder
    directories and byte-identical subscriptions."""
    server, jail, domain = dovecot
    ours = jail.make_home(domain + '/ours-maildir', UID, GID, 0o700)
    theirs = jail.make_home(domain + '/theirs-maildir', UID, GID, 0o700)
    create_mailbox(ours, UID, GID, 0o700, 'maildir', 'Maildir', FOLDERS,
                   True, 'ours@maildir')
    server.doveadm('mailbox', 'create', '-s', '-u', 'theirs-maildir@maildir',
                   *FOLDERS)

    def folders(home):
        return sorted(name for name in os.listdir(home + '/Maildir')
                      if name.startswith('.'))

    def subscriptions(home):
        with open(home + '/Maildir/subscriptions', 'rb') as handle:
            return handle.read()
    assert folders(ours) == folders(theirs)
    assert subscriptions(ours) == subscriptions(theirs)
    for folder in folders(theirs):
        assert os.path.isfile('%s/Maildir/%s/maildirfolder' % (ours, folder))


# ---------------------------------------------------------------------------
# Disk usage
# ---------------------------------------------------------------------------

def test_disk_usage(tmp_path):
    (tmp_path / 'd').mkdir()
    (tmp_path / 'd' / 'f').write_bytes(b'x' * 12345)
    expected = int(subprocess.run(['du', '-sb', str(tmp_path / 'd')],
                                  capture_output=True, text=True,
                                  check=True).stdout.split()[0])
    used = disk_usage(shutil.which('du'), str(tmp_path / 'd'))
    assert used == expected and used >= 12345


def test_disk_usage_without_b_option(tmp_path):
    fake = tmp_path / 'du'
    fake.write_text('#!/bin/sh\n'
                    'if [ "$1" = "-sb" ]; then\n'
                    '  echo "du: illegal option -- b" >&2; exit 1\n'
                    'fi\n'
                    'printf "3\\t%s\\n" "$3"\n')
    fake.chmod(0o755)
    assert disk_usage(str(fake), str(tmp_path)) == 3 * 1024


def test_disk_usage_errors(tmp_path):
    du = shutil.which('du')
    cases = [(str(tmp_path / 'nodu'), str(tmp_path), errors.NO_SUCH_BINARY),
             (str(tmp_path), str(tmp_path), errors.NOT_EXECUTABLE),
             (du, str(tmp_path / 'missing'), errors.NO_SUCH_DIRECTORY)]
    for binary, path, code in cases:
        with pytest.raises(VMMError) as info:
            disk_usage(binary, path)
        assert info.value.code == code
    broken = tmp_path / 'du'
    broken.write_text('#!/bin/sh\necho "du: cannot read" >&2\nexit 1\n')
    broken.chmod(0o755)
    with pytest.raises(VMMError) as info:
        disk_usage(str(broken), str(tmp_path))
    assert info.value.code == errors.VMM_ERROR
    assert 'du: cannot read' in info.value.msg
