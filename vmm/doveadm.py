"""Asking the running Dovecot through ``doveadm``.

The calls vmm makes to the live server run ``bin.doveadm`` with
``-c misc.dovecot_config`` when that is set (:func:`command`; ``vmm check``
lets ``--dovecot-config`` override the file).  Mailbox creation in
:mod:`vmm.mailbox` is deliberately not one of them: it runs doveadm with a
private configuration of its own.
"""

import os
import re
import subprocess

from vmm.i18n import _

#: Seconds a doveadm call may take before vmm gives up on the answer: a
#: hanging Dovecot must not hang vmm.
TIMEOUT = 5


class DoveadmError(Exception):
    """doveadm ran but gave no usable answer; the text says why."""


def command(config, *args):
    """The argv of ``doveadm ARGS`` for the live server."""
    argv = [config['bin.doveadm']]
    if config['misc.dovecot_config']:
        argv += ['-c', config['misc.dovecot_config']]
    return argv + list(args)


def installed(config):
    path = config['bin.doveadm']
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _run(config, *args):
    """doveadm's standard output, or DoveadmError with one line why."""
    argv = command(config, *args)
    shown = 'doveadm ' + ' '.join(args)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True,
                              errors='replace', timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DoveadmError(_('%(program)s did not answer within %(s)d '
                             'seconds') % {'program': '`%s`' % shown,
                                           's': TIMEOUT}) from None
    except OSError as err:
        raise DoveadmError('`%s`: %s' % (shown, err.strerror)) from None
    if proc.returncode != 0:
        raise DoveadmError(_('`%(cmd)s` failed: %(error)s') % {
            'cmd': shown,
            'error': _first_line(proc.stderr) or _first_line(proc.stdout)
            or _('exit status %d') % proc.returncode})
    return proc.stdout


def _first_line(text):
    """The first line of doveadm's complaint without its
    ``doveadm(user): Error:`` prefix."""
    for line in text.splitlines():
        if line.strip():
            return re.sub(r'^(?:[\w./-]+(?:\([^)]*\))?: )?'
                          r'(?:Fatal|Error|Panic|Warning): ', '',
                          line.strip())
    return ''


def _table(text):
    """The rows of ``doveadm -f tab`` output as dicts keyed by its header."""
    lines = text.splitlines()
    if not lines:
        return []
    header = lines[0].split('\t')
    return [dict(zip(header, line.split('\t'))) for line in lines[1:]]


def quota_usage(config, address):
    """(bytes, messages) that Dovecot's quota counts for *address*.

    ``doveadm quota get`` gives the storage in KiB, rounded up, so bytes
    is a multiple of 1024.  Only the first quota root counts (the one vmm's
    ``quota_rule`` sets up).  The rows are read by the header's column
    names, which ``quota get -A`` (every user, a Username column more)
    shares.
    """
    out = _run(config, '-f', 'tab', 'quota', 'get', '-u', address)
    usage, root = {}, None
    for row in _table(out):
        root = row.get('Quota name') if root is None else root
        if row.get('Quota name') != root:
            continue
        try:
            usage[row.get('Type')] = int(row.get('Value', ''))
        except ValueError:
            continue
    if 'STORAGE' not in usage or 'MESSAGE' not in usage:
        raise DoveadmError(_('`doveadm quota get -u %s` reports no '
                             'storage and message usage') % address)
    return usage['STORAGE'] * 1024, usage['MESSAGE']
