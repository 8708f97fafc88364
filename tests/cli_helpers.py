"""Helpers shared by the command-line tests (test_cli_*.py, test_policy.py,
test_bad_input.py, test_concurrency.py): clean-failure assertions, a fake
``postconf``, a runner with vmm.cfg overrides and checks of the mail tree.
"""

import os
import stat

from conftest import Runner, write_config


def assert_error(result, code):
    """*result* is a clean failure: exit *code*, one ``Error:`` line on
    stderr, no traceback."""
    assert result.code == code, result
    assert 'Traceback' not in result.err, result
    assert result.err.startswith('Error: '), result
    assert result.err.count('\n') == 1 and result.err.endswith('\n'), result


def assert_ok(result):
    assert result.code == 0, result
    assert 'Traceback' not in result.err, result
    return result


def fails_cleanly(vmm, snapshot, code, *args, **kwargs):
    """Run vmm and assert it fails with *code* and changes nothing in the
    database or the mail tree."""
    before = snapshot()
    result = vmm(*args, **kwargs)
    assert_error(result, code)
    after = snapshot()
    assert after[0] == before[0], 'database changed by %r' % (args,)
    assert after[1] == before[1], 'mail tree changed by %r' % (args,)
    return result


class Unchanged:
    """Several failing commands in a row, each compared with the state
    before the first: ``check = Unchanged(vmm, snapshot); check(57, 'di',
    'x.example')``.  (One snapshot per command instead of two.)"""

    def __init__(self, vmm, snapshot):
        self.vmm, self.snapshot = vmm, snapshot
        self.before = snapshot()

    def __call__(self, code, *args, **kwargs):
        result = self.vmm(*args, **kwargs)
        assert_error(result, code)
        after = self.snapshot()
        assert after[0] == self.before[0], 'database changed by %r' % (args,)
        assert after[1] == self.before[1], 'mail tree changed by %r' % (
            args,)
        return result


def fake_postconf(directory, **values):
    """A ``postconf`` that answers ``postconf -h NAME`` with *values*."""
    path = os.path.join(str(directory), 'postconf')
    lines = ['#!/bin/sh', 'case "$2" in']
    for name, value in values.items():
        lines.append('%s) echo %s ;;' % (name, value))
    lines += ['*) exit 1 ;;', 'esac', '']
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines))
    os.chmod(path, 0o755)
    return path


def runner(tmp_path, pg, db, mail_base, name='vmm-extra.cfg', **sections):
    """A Runner whose vmm.cfg has the overrides *sections* (as for
    ``write_config``) for the same database and mail base."""
    return Runner(write_config(tmp_path / name, pg, db.name, mail_base,
                               **sections))


def domain_row(db, name):
    """(gid, domaindir) of the primary domain *name* (ACE)."""
    rows = db.query('SELECT d.gid, d.domaindir FROM domain_data d JOIN '
                    'domain_name n ON n.gid = d.gid AND n.is_primary '
                    'WHERE n.domainname = %s', (name,))
    return rows[0] if rows else None


def account_row(db, address):
    """(uid, gid, home) of the account *address* (ACE domain)."""
    local, domain = address.split('@')
    rows = db.query("SELECT u.uid, u.gid, d.domaindir || '/' || u.uid "
                    'FROM users u JOIN domain_data d ON d.gid = u.gid '
                    'JOIN domain_name n ON n.gid = u.gid '
                    'WHERE n.domainname = %s AND u.local_part = %s',
                    (domain, local))
    return rows[0] if rows else None


def check_owner_mode(path, uid, gid, mode):
    st = os.lstat(path)
    assert stat.S_ISDIR(st.st_mode), path
    assert (st.st_uid, st.st_gid) == (uid, gid), path
    assert stat.S_IMODE(st.st_mode) == mode, '%s: %o' % (path,
                                                         st.st_mode)


def check_domain_directory(mail_base, gid, directory, mode=0o770):
    """``base/<hex digit>/<gid>``, root:gid, *mode*."""
    rel = os.path.relpath(directory, str(mail_base))
    hexdigit, gid_text = rel.split(os.sep)
    assert len(hexdigit) == 1 and hexdigit in '0123456789abcdef'
    assert gid_text == str(gid)
    check_owner_mode(directory, 0, gid, mode)


FOLDERS = ('Drafts', 'Sent', 'Templates', 'Trash')


def check_maildir(home, uid, gid, mode=0o700, folders=FOLDERS):
    """The account's home and its Maildir with folders and subscriptions."""
    check_owner_mode(home, uid, gid, mode)
    maildir = os.path.join(home, 'Maildir')
    check_owner_mode(maildir, uid, gid, mode)
    for sub in ('cur', 'new', 'tmp'):
        check_owner_mode(os.path.join(maildir, sub), uid, gid, mode)
    for folder in folders:
        path = os.path.join(maildir, '.' + folder)
        check_owner_mode(path, uid, gid, mode)
        for sub in ('cur', 'new', 'tmp'):
            check_owner_mode(os.path.join(path, sub), uid, gid, mode)
        marker = os.path.join(path, 'maildirfolder')
        assert os.path.isfile(marker)
        st = os.stat(marker)
        assert (st.st_uid, st.st_gid) == (uid, gid)
    with open(os.path.join(maildir, 'subscriptions')) as handle:
        subscribed = handle.read().split('\n')
    for folder in folders:
        assert folder in subscribed
