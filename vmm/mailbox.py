"""Mail directories on disk: domain directories, homes and mailboxes.

Everything here is called by the handler layer; failures raise
:class:`~vmm.errors.VMMError` with the exit code vmm(1) lists and nothing
is printed.

Layout
------

``misc.base_directory/<hex digit>/<gid>``
    The domain directory, owned ``root:<gid>`` with ``domain.directory_mode``.
    The one-hex-digit parent is made by :mod:`vmm.jail`.

``<domain directory>/<uid>``
    The account's home, owned ``uid:gid`` with ``account.directory_mode``.

``<home>/<mailbox.root>``
    The mailbox.  For ``maildir``: ``cur new tmp`` and one Maildir++
    folder ``.<name>`` per configured folder, exactly as Dovecot 2.3 creates
    them itself: the hierarchy separator on disk is ``.``, so ``Lists.Dovecot``
    is the single directory ``.Lists.Dovecot`` and its parent ``Lists`` needs
    no directory of its own (Dovecot shows it as a non-existent parent);
    names are stored in IMAP modified UTF-7 (``Entwürfe`` → ``.Entw&APw-rfe``);
    each folder holds an empty ``maildirfolder`` file.  With ``subscribe``
    the file ``subscriptions`` is written in the format Dovecot 2.3 writes:
    the header line ``V<TAB>2``, an empty line, then one line per folder with
    the hierarchy levels separated by a TAB and each level in modified UTF-7
    (``Lists<TAB>Dovecot``).  Files get the directory mode without the
    execute bits (``0o700`` → ``0o600``), as Dovecot does.
    For ``sdbox`` and ``mdbox`` the root directory is made here (so that
    Dovecot copies its owner and mode), then ``doveadm mailbox create``
    makes ``INBOX`` and the folders, run with a private configuration of its
    own (the server's Dovecot need not be configured for vmm): no userdb
    lookup, ``mail_uid``/``mail_gid``/``mail_home``/``mail_location`` given
    on the command line, so doveadm drops to the account's uid:gid and
    everything it writes belongs to the account.  The namespace separator of
    that configuration is ``/``, so ``Lists.Dovecot`` becomes the
    ``mailboxes/Lists/Dovecot`` hierarchy that Dovecot reads as nested with
    whatever separator the server itself uses.

Where directories may be made at all is :mod:`vmm.jail`'s business, and
when (so that a killed run leaves nothing half-done) :mod:`vmm.staging`'s.
"""

import os

from vmm.errors import (
    MAILLOCATION_INIT,
    NO_SUCH_BINARY,
    NO_SUCH_DIRECTORY,
    NOT_EXECUTABLE,
    VMM_ERROR,
    VMMError,
)
from vmm.i18n import _
from vmm.jail import (
    DIR_FLAGS,
    check_id,
    check_mode,
    make_directory_at,
    require_root,
    write_file_at,
)
from vmm.text import has_control

__all__ = ('FORMATS', 'check_folder_name', 'create_mailbox', 'disk_usage',
           'imap_utf7_decode', 'imap_utf7_encode', 'parse_folders')

#: The mailbox formats vmm can create.
FORMATS = ('maildir', 'sdbox', 'mdbox')

_NAME_MAX = 255
_MAILDIR_SUBDIRS = ('cur', 'new', 'tmp')


# ---------------------------------------------------------------------------
# Folder names
# ---------------------------------------------------------------------------

def _check_component(component):
    """Raise ValueError unless *component* is one valid hierarchy level."""
    if not component:
        raise ValueError(_('a folder name must not be empty and must not '
                           'begin or end with a dot or contain two dots in '
                           'a row'))
    if component != component.strip():
        raise ValueError(_('a folder name must not begin or end with '
                           'white space'))
    if component.startswith('~'):
        raise ValueError(_("a folder name must not begin with '~'"))


def check_folder_name(name):
    """Raise ValueError (translated reason) unless *name* is a valid folder.

    *name* is a folder of ``mailbox.folders``: levels separated by ``.``.
    """
    if not isinstance(name, str):
        raise ValueError(_('a folder name must be text'))
    if has_control(name):
        raise ValueError(_('a folder name must not contain control '
                           'characters or NUL'))
    if '/' in name:
        raise ValueError(_("a folder name must not contain '/'"))
    if '*' in name or '%' in name:
        raise ValueError(_("a folder name must not contain the IMAP "
                           "wildcards '*' and '%'"))
    for component in name.split('.'):
        _check_component(component)
    if name.upper() == 'INBOX':
        raise ValueError(_('INBOX always exists and cannot be a folder'))
    if len(('.' + imap_utf7_encode(name)).encode('ascii')) > _NAME_MAX:
        raise ValueError(_('a folder name is too long'))


def parse_folders(text):
    """Split the colon-separated ``mailbox.folders`` option into names.

    ``.`` nests (``Lists.Dovecot`` is ``Dovecot`` inside ``Lists``); blanks
    around a name are ignored; an empty string gives ``()``.  Raises
    ValueError with a translated reason for an invalid or repeated name.
    """
    if text is None:
        return ()
    text = text.strip(' \t')
    if not text:
        return ()
    folders = []
    for entry in text.split(':'):
        name = entry.strip(' \t')
        try:
            check_folder_name(name)
        except ValueError as err:
            if not name:
                raise
            raise ValueError('%s: %s' % (name, err)) from None
        if name in folders:
            raise ValueError(_('folder %s is named twice') % name)
        folders.append(name)
    return tuple(folders)


# ---------------------------------------------------------------------------
# IMAP modified UTF-7 (RFC 3501 section 5.1.3)
# ---------------------------------------------------------------------------

def imap_utf7_encode(name):
    """Encode *name* in IMAP modified UTF-7 (RFC 3501 5.1.3).

    Printable ASCII stands for itself, ``&`` becomes ``&-``, every other
    run of characters is UTF-16BE in base64 with ``,`` for ``/``, without
    padding, between ``&`` and ``-``.  ValueError for text that is not
    valid Unicode (lone surrogates).
    """
    import binascii

    out = []
    run = []

    def flush():
        if run:
            try:
                raw = ''.join(run).encode('utf-16-be')
            except UnicodeEncodeError:
                raise ValueError(_('not valid Unicode text')) from None
            b64 = binascii.b2a_base64(raw, newline=False).decode('ascii')
            out.append('&' + b64.rstrip('=').replace('/', ',') + '-')
            run.clear()

    for char in name:
        if '\x20' <= char <= '\x7e':
            flush()
            out.append('&-' if char == '&' else char)
        else:
            run.append(char)
    flush()
    return ''.join(out)


def imap_utf7_decode(text):
    """Decode IMAP modified UTF-7 *text*; ValueError when it is malformed."""
    import binascii

    out = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if not '\x20' <= char <= '\x7e':
            raise ValueError(_('not modified UTF-7: character %r') % char)
        if char != '&':
            out.append(char)
            pos += 1
            continue
        end = text.find('-', pos + 1)
        if end < 0:
            raise ValueError(_('not modified UTF-7: unterminated shift'))
        b64 = text[pos + 1:end]
        pos = end + 1
        if not b64:
            out.append('&')
            continue
        if '/' in b64 or '=' in b64 or len(b64) % 4 == 1:
            raise ValueError(_('not modified UTF-7: bad base64'))
        b64 = b64.replace(',', '/') + '=' * (-len(b64) % 4)
        try:
            raw = binascii.a2b_base64(b64.encode('ascii'))
            if len(raw) % 2:
                raise ValueError
            out.append(raw.decode('utf-16-be'))
        except (ValueError, binascii.Error, UnicodeError):
            raise ValueError(_('not modified UTF-7: bad base64')) from None
    return ''.join(out)


# ---------------------------------------------------------------------------
# Mailboxes
# ---------------------------------------------------------------------------

def _check_binary(binary):
    if not binary or not os.path.isabs(binary) or not os.path.exists(binary):
        raise VMMError(_('No such binary: %s') % binary, NO_SUCH_BINARY)
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        raise VMMError(_('%s is not an executable file') % binary,
                       NOT_EXECUTABLE)


def _folder_list(folders):
    if folders is None:
        return ()
    if isinstance(folders, str):
        folders = parse_folders(folders)
    seen = []
    for name in folders:
        try:
            check_folder_name(name)
        except ValueError as err:
            raise VMMError(_('Invalid folder name %(name)r: %(reason)s')
                           % {'name': name, 'reason': err},
                           MAILLOCATION_INIT) from None
        if name not in seen:
            seen.append(name)
    return tuple(seen)


def _make_maildir(root_fd, uid, gid, mode, folders, subscribe):
    file_mode = mode & 0o666
    for sub in _MAILDIR_SUBDIRS:
        os.close(make_directory_at(sub, root_fd, uid, gid, mode))
    for name in folders:
        fd = make_directory_at('.' + imap_utf7_encode(name), root_fd, uid, gid,
                          mode)
        try:
            for sub in _MAILDIR_SUBDIRS:
                os.close(make_directory_at(sub, fd, uid, gid, mode))
            write_file_at('maildirfolder', fd, b'', uid, gid, file_mode)
        finally:
            os.close(fd)
    if subscribe and folders:
        lines = ['V\t2', '']
        lines += ['\t'.join(imap_utf7_encode(level)
                            for level in name.split('.'))
                  for name in folders]
        write_file_at('subscriptions', root_fd,
                      ('\n'.join(lines) + '\n').encode('ascii'), uid, gid,
                      file_mode)


# The private configuration doveadm runs with: no services, no userdb, logs
# to stderr.  Everything account-specific is passed with -o (values given
# with -o are taken literally, without %-variable expansion).
_DOVEADM_CONFIG = """\
# written by vmm for one doveadm run
log_path = /dev/stderr
info_log_path = /dev/null
first_valid_uid = 1
first_valid_gid = 1
mail_plugins =
namespace inbox {
  inbox = yes
  separator = /
  prefix =
}
"""


def _first_error(stderr, returncode):
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if 'Error:' in line or 'Fatal:' in line or 'Panic:' in line:
            for mark in ('Error:', 'Fatal:', 'Panic:'):
                if mark in line:
                    return line.split(mark, 1)[1].strip()
    if lines:
        return lines[0]
    return _('exit status %d') % returncode


def _run_doveadm(doveadm, home, uid, gid, fmt, root, user, args):
    """Run ``doveadm ARGS`` for the account, with a private configuration."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix='vmm-doveadm-') as tmp:
        conf = os.path.join(tmp, 'dovecot.conf')
        for sub in ('run', 'state'):
            os.mkdir(os.path.join(tmp, sub), 0o700)
        with open(conf, 'w', encoding='utf-8') as handle:
            handle.write(_DOVEADM_CONFIG)
        location = '%s:~/%s' % (fmt, root.replace(':', '::'))
        cmd = [doveadm, '-c', conf,
               '-o', 'base_dir=' + os.path.join(tmp, 'run'),
               '-o', 'state_dir=' + os.path.join(tmp, 'state'),
               '-o', 'mail_uid=%d' % uid,
               '-o', 'mail_gid=%d' % gid,
               '-o', 'mail_home=' + home,
               '-o', 'mail_location=' + location] + list(args)
        env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL': 'C',
               'USER': user or 'vmm'}
        try:
            proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=300,
                                  cwd=tmp)
        except subprocess.TimeoutExpired:
            raise VMMError(_('doveadm did not finish in time'),
                           MAILLOCATION_INIT) from None
        except OSError as err:
            raise VMMError(_('Cannot run %(binary)s: %(reason)s')
                           % {'binary': doveadm, 'reason': err.strerror},
                           NOT_EXECUTABLE) from None
    if proc.returncode != 0:
        detail = _first_error(proc.stderr.decode('utf-8', 'replace'),
                              proc.returncode)
        raise VMMError(_('Cannot create the mailbox: doveadm: %s') % detail,
                       MAILLOCATION_INIT)


def create_mailbox(home, uid, gid, mode, fmt, root, folders, subscribe, user,
                   doveadm='/usr/bin/doveadm'):
    """Create the mailbox ``home/root`` in *fmt* for the account.

    *home* must be an existing directory (56 if not); ``home/root`` must not
    exist yet (70).  Directories get *mode* and belong to *uid*:*gid*.
    *folders* is a tuple of names as :func:`parse_folders` returns (a
    string is parsed); with *subscribe* they are subscribed.  *user* is the
    account's address (doveadm's log name).  An unknown *fmt* or a failure
    of doveadm is VMMError 70; a missing doveadm 55, one that is not
    executable 51.  On failure everything this call made is removed again.
    """
    if fmt not in FORMATS:
        raise VMMError(_('Unknown mailbox format: %s') % (fmt,),
                       MAILLOCATION_INIT)
    if not isinstance(root, str) or not root or root in ('.', '..') \
            or '/' in root or '\0' in root:
        raise VMMError(_('Invalid mailbox root directory: %r') % (root,),
                       MAILLOCATION_INIT)
    check_mode(mode)
    check_id(uid)
    check_id(gid)
    folders = _folder_list(folders)
    if not isinstance(home, str) or not os.path.isabs(home):
        raise VMMError(_('The home directory must be an absolute path: %r')
                       % (home,), VMM_ERROR)
    if fmt != 'maildir':
        _check_binary(doveadm)
    require_root()
    try:
        home_fd = os.open(home, DIR_FLAGS)
    except FileNotFoundError:
        raise VMMError(_('The directory %s does not exist.') % home,
                       NO_SUCH_DIRECTORY) from None
    except OSError as err:
        raise VMMError(_('Cannot use the home directory %(path)s: '
                         '%(reason)s') % {'path': home,
                                          'reason': err.strerror},
                       VMM_ERROR) from None
    created = False
    try:
        try:
            root_fd = make_directory_at(root, home_fd, uid, gid, mode)
        except FileExistsError:
            raise VMMError(_('The mailbox %s already exists.')
                           % os.path.join(home, root),
                           MAILLOCATION_INIT) from None
        created = True
        try:
            if fmt == 'maildir':
                _make_maildir(root_fd, uid, gid, mode, folders, subscribe)
        finally:
            os.close(root_fd)
        if fmt != 'maildir':
            def run(args):
                _run_doveadm(doveadm, home, uid, gid, fmt, root, user, args)
            run(['mailbox', 'create', 'INBOX'])
            if folders:
                names = [name.replace('.', '/') for name in folders]
                run(['mailbox', 'create'] + (['-s'] if subscribe else [])
                    + ['--'] + names)
    except BaseException as err:
        if created:
            import shutil
            try:
                shutil.rmtree(root, dir_fd=home_fd)
            except OSError:
                pass
        if isinstance(err, OSError):
            raise VMMError(_('Cannot create the mailbox %(path)s: '
                             '%(reason)s') % {
                                 'path': os.path.join(home, root),
                                 'reason': err.strerror or str(err)},
                           MAILLOCATION_INIT) from None
        raise
    finally:
        os.close(home_fd)
    return os.path.join(home, root)


# ---------------------------------------------------------------------------
# Disk usage
# ---------------------------------------------------------------------------

def disk_usage(du, path):
    """Bytes used below *path*, from ``du -sb`` (``du -sk`` × 1024 where
    ``-b`` is not supported).  Missing du 55, not executable 51, missing
    *path* 56, other failures 67."""
    import subprocess

    _check_binary(du)
    if not os.path.lexists(path):
        raise VMMError(_('The directory %s does not exist.') % path,
                       NO_SUCH_DIRECTORY)
    error = ''
    for option, factor in (('-sb', 1), ('-sk', 1024)):
        try:
            proc = subprocess.run([du, option, '--', path],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  env={'PATH': '/usr/bin:/bin',
                                       'LC_ALL': 'C'})
        except OSError as err:
            raise VMMError(_('Cannot run %(binary)s: %(reason)s')
                           % {'binary': du, 'reason': err.strerror},
                           NOT_EXECUTABLE) from None
        fields = proc.stdout.split()
        if proc.returncode == 0 and fields and fields[0].isdigit():
            return int(fields[0]) * factor
        error = _first_error(proc.stderr.decode('utf-8', 'replace'),
                             proc.returncode)
    raise VMMError(_('Cannot determine the disk usage of %(path)s: '
                     '%(reason)s') % {'path': path, 'reason': error},
                   VMM_ERROR)
