"""Out-of-office replies (vmm(1) "Vacation"): ``vmm uservacation``.

The row of the account in the table ``vacation`` is the source of truth;
from it vmm writes a Sieve script into the account's home, and Dovecot's
Sieve plugin (Pigeonhole, ``vacation`` extension, RFC 5230) does the
replying: once per sender every ``days`` days, never to lists, bounces or
other automatic mail.  Nothing in Dovecot's configuration has to change:
Pigeonhole's defaults are assumed, ``sieve = file:~/sieve;
active=~/.dovecot.sieve``, with no global script.

Files
-----

``~/sieve/vmm-vacation.sieve``
    The vacation script.  Its first lines are comments; one of them,
    ``# vmm-previous-active: ...``, records what ``~/.dovecot.sieve`` was
    before vmm made the vacation script the active one:

    * ``none`` -- there was no active script;
    * ``link "sieve/NAME.sieve"`` -- a symbolic link to the user's script
      NAME in ``~/sieve`` (what ManageSieve makes), target text verbatim;
    * ``file "NAME"`` -- a regular file (written by hand); vmm gave it the
      name ``~/sieve/NAME.sieve`` (a hard link to the same file, so owner,
      mode and contents stay exactly what they were) while the vacation is
      on.

    In the last two cases the script ends with ``include :personal
    :optional "NAME";``: the user's own script runs after the vacation
    rule, and keeps filing mail where it did.  (``:optional``: should the
    user delete that script through ManageSieve meanwhile, the vacation
    goes on working.)

``~/.dovecot.sieve``
    While the vacation is on, a symbolic link ``sieve/vmm-vacation.sieve``,
    as ManageSieve's SETACTIVE would make it.  ``--off`` puts back what the
    comment above records -- the same link text, or the same file -- and
    removes the vacation script.  Should the user have activated another
    script meanwhile (through ManageSieve), ``--off`` leaves the active
    script alone and only removes vmm's.

Escaping: the subject is a Sieve quoted string (``\\`` and ``"`` escaped),
the text a ``text:`` multi-line literal with dot-stuffing; neither
``variables`` nor ``encoded-character`` is required, so ``${...}`` stays
literal.  The subject may not contain line breaks or other control
characters; the text may contain tabs and line breaks only.  No subject
or text can therefore end a string early and inject Sieve commands.

Safety and atomicity: the home is reached through the handler's
:class:`~vmm.mailbox.DirectoryJail` (inside ``misc.base_directory``, no
symbolic link followed on the way); below it everything is done with
directory descriptors and ``O_NOFOLLOW``.  Files are written to temporary
names in their final directory (``0600``, ``~/sieve`` ``0700``, owned by
the account's UID and the domain's GID) before the transaction commits,
and renamed into place after the commit; on rollback the temporary files
are removed, so a failure leaves neither a database change nor a changed
file.  Concurrent runs for one account are serialised by the account's
row lock and a ``flock`` of its home directory (under which temporary
files a killed run left are swept away).

Dovecot compiles the scripts itself.  It keeps the binary of the active
script in ``~/.dovecot.svbin`` -- also when ``~/.dovecot.sieve`` is a link
into ``~/sieve`` -- and trusts it while it is newer than the script.  A
file put back by ``--off`` keeps its older mtime, and two ``--on`` may
fall in one second, so vmm removes ``~/.dovecot.svbin`` and
``~/sieve/vmm-vacation.svbin`` right after every change it makes.
"""

import datetime
import os

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.vacation.home import (
    ACTIVE,
    PENDING,
    TEMP_PREFIX,
    Home,
    Plan,
    saved_name,
    symlink_temp,
    temp_name,
    write_temp,
)
from vmm.vacation.settings import (
    DEFAULT_DAYS,
    MAX_BODY_BYTES,
    MAX_DAYS,
    MAX_SUBJECT,
    Settings,
    check_body,
    check_dates,
    check_days,
    check_subject,
    parse_date,
)
from vmm.vacation.sieve import (
    ACTIVE_BINARY,
    BINARY_FILE,
    SCRIPT_FILE,
    SCRIPT_NAME,
    SIEVE_DIR,
    Previous,
    make_script,
    parse_previous,
    sieve_multiline,
    sieve_string,
)

__all__ = ('DEFAULT_DAYS', 'MAX_BODY_BYTES', 'MAX_DAYS', 'MAX_SUBJECT',
           'SCRIPT_NAME', 'Previous', 'Settings', 'check_body',
           'check_dates', 'check_days', 'check_subject', 'make_script',
           'parse_date', 'parse_previous', 'read_settings',
           'sieve_multiline', 'sieve_string', 'vacation_off', 'vacation_on',
           'vacation_show')


def _prepare_on(handler, account, settings):
    """Write the vacation script and the new active link to temporary
    names; rename them after the commit.  Returns the Previous kept."""
    home = Home(handler, account)
    plan = Plan(handler, home)
    with plan.preparing():
        sieve_fd = home.open_sieve(create=True)
        home.sweep()
        state = home.active()
        if state[0] == 'ours':
            previous = home.our_previous() or Previous('none')
            if previous.kind == 'file' and \
                    not home.script_exists(previous.value):
                previous = Previous('none')
        elif state[0] == 'link':
            previous = Previous('link', state[1])
        elif state[0] == 'file':
            name = saved_name(sieve_fd)
            # A second name for the same file: owner, mode, contents
            # and inode stay what they were.
            os.link(ACTIVE, name + '.sieve', src_dir_fd=home.fd,
                    dst_dir_fd=sieve_fd, follow_symlinks=False)
            plan.temps.append((sieve_fd, name + '.sieve'))
            previous = Previous('file', name)
        else:
            previous = Previous('none')
        script = make_script(settings, account.all_addresses(), previous,
                             account.unicode)
        temp = write_temp(sieve_fd, script.encode('utf-8'), home.uid,
                           home.gid)
        plan.temps.append((sieve_fd, temp))
        # The script first (and its stale binary away), then the link
        # that makes it the active one.
        plan.rename(sieve_fd, temp, sieve_fd, SCRIPT_FILE)
        plan.unlink(sieve_fd, BINARY_FILE)
        if state[0] != 'ours':
            link = symlink_temp(home.fd, '%s/%s' % (SIEVE_DIR,
                                                     SCRIPT_FILE),
                                 home.uid, home.gid)
            plan.temps.append((home.fd, link))
            plan.rename(home.fd, link, home.fd, ACTIVE)
        plan.unlink(home.fd, ACTIVE_BINARY)
    return previous


def _prepare_off(handler, account):
    """Put the previous active script back and remove vmm's after the
    commit.  Returns (what was restored: a Previous or None when the
    active script was not vmm's, warnings)."""
    try:
        home = Home(handler, account)
    except VMMError as err:
        if err.code != errors.NO_SUCH_DIRECTORY:
            raise
        return None, [err.msg]
    plan = Plan(handler, home)
    warnings = []
    restored = None
    with plan.preparing():
        state = home.active()
        sieve_fd = home.open_sieve()
        home.sweep()
        if state[0] == 'ours':
            restored = home.our_previous() or Previous('none')
            if restored.kind != 'none' and not home.script_exists(
                    restored.name, regular=restored.kind == 'file'):
                warnings.append(
                    _("The Sieve script '%(name)s' that was active "
                      "before the vacation no longer exists; '%(path)s' "
                      'is removed') % {'name': restored.name,
                                       'path': home.where(ACTIVE)})
                restored = Previous('none')
            if restored.kind == 'link':
                link = symlink_temp(home.fd, restored.value, home.uid,
                                     home.gid)
                plan.temps.append((home.fd, link))
                plan.rename(home.fd, link, home.fd, ACTIVE)
            elif restored.kind == 'file':
                temp = temp_name(ACTIVE + TEMP_PREFIX)
                os.link(restored.value + '.sieve', temp,
                        src_dir_fd=sieve_fd, dst_dir_fd=home.fd,
                        follow_symlinks=False)
                plan.temps.append((home.fd, temp))
                plan.rename(home.fd, temp, home.fd, ACTIVE)
            else:
                plan.unlink(home.fd, ACTIVE)
            # The vacation compiled: a file put back keeps its older
            # mtime, so Pigeonhole would take this binary as current.
            plan.unlink(home.fd, ACTIVE_BINARY)
            if restored.kind == 'file':
                plan.unlink(sieve_fd, restored.value + '.sieve')
        if sieve_fd is not None:
            plan.unlink(sieve_fd, SCRIPT_FILE)
            plan.unlink(sieve_fd, BINARY_FILE)
    return restored, warnings


def _inspect(handler, account):
    """What the files say, for --show: a dict with 'files' one of
    'pending' (a batch changes them at its commit), 'unknown' ('reason'
    says why) or 'read', then 'state' (see Home.active), 'previous'
    (recorded in vmm's active script, or None) and 'ours' (vmm's script is
    there)."""
    if account.uid in PENDING.get(handler, {}):
        return {'files': 'pending'}
    home = None
    try:
        home = Home(handler, account, lock=False)
        state = home.active()
        previous = home.our_previous() if state[0] == 'ours' else None
        return {'files': 'read', 'state': state, 'previous': previous,
                'ours': home.script_exists(SCRIPT_NAME)}
    except VMMError as err:
        return {'files': 'unknown', 'reason': err.msg}
    except OSError as err:
        return {'files': 'unknown', 'reason': err.strerror or str(err)}
    finally:
        if home is not None:
            home.close()


def _lock_account(handler, text):
    account = handler.account(text)
    if account.uid in PENDING.get(handler, {}):
        # One transaction (a batch) changing it twice: the second change
        # would be planned from files the first has not changed yet.
        raise VMMError(_("The vacation of '%s' was changed already in this "
                         'transaction; change it once per batch')
                       % account.unicode, errors.VMM_ERROR)
    handler.cur.execute('SELECT 1 FROM users WHERE uid = %s FOR UPDATE',
                        (account.uid,))
    return account


def read_settings(cur, uid):
    """The account's :class:`Settings`, or None when it never had any."""
    cur.execute('SELECT active, subject, body, date_from, date_until, days '
                'FROM vacation WHERE uid = %s', (uid,))
    row = cur.fetchone()
    return Settings(*row) if row else None


def vacation_on(handler, text, subject, body, date_from=None,
                date_until=None, days=None):
    """Switch the vacation of the account *text* on (or change it)."""
    from vmm.jail import require_root
    settings = Settings(True, check_subject(subject), check_body(body),
                        date_from, date_until, check_days(days))
    check_dates(date_from, date_until)
    require_root()
    account = _lock_account(handler, text)
    handler.cur.execute(
        'INSERT INTO vacation (uid, active, subject, body, date_from, '
        'date_until, days) VALUES (%s, TRUE, %s, %s, %s, %s, %s) '
        'ON CONFLICT (uid) DO UPDATE SET active = TRUE, '
        'subject = EXCLUDED.subject, body = EXCLUDED.body, '
        'date_from = EXCLUDED.date_from, date_until = EXCLUDED.date_until, '
        'days = EXCLUDED.days',
        (account.uid, settings.subject, settings.body, date_from,
         date_until, settings.days))
    handler.log(_('vacation of %s switched on') % account.address,
                account.address)
    if date_until and date_until < datetime.date.today():
        handler.warnings.append(
            _('The vacation ended on %s: no replies will be sent')
            % date_until.isoformat())
    previous = _prepare_on(handler, account, settings)
    return account, previous


def vacation_off(handler, text):
    """Switch the vacation of the account *text* off; the row is kept
    (inactive) for --show.  Returns (account, Previous restored or None,
    whether it was on)."""
    from vmm.jail import require_root
    require_root()
    account = _lock_account(handler, text)
    settings = read_settings(handler.cur, account.uid)
    was_on = bool(settings and settings.active)
    if was_on:
        handler.cur.execute('UPDATE vacation SET active = FALSE '
                            'WHERE uid = %s', (account.uid,))
        handler.log(_('vacation of %s switched off') % account.address,
                    account.address)
    restored, warnings = _prepare_off(handler, account)
    handler.warnings.extend(warnings)
    if not was_on:
        handler.warnings.append(_("The vacation of '%s' was not on")
                                % account.unicode)
    return account, restored, was_on


def vacation_show(handler, text):
    """(account, Settings or None, what the files say: see _inspect)."""
    account = handler.account(text)
    return (account, read_settings(handler.cur, account.uid),
            _inspect(handler, account))
