"""Glue shared by the command modules: the decorator that hands a command
its handler inside one transaction, reading passwords."""

import contextlib
import functools
import sys

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _


@contextlib.contextmanager
def transaction(handler, out):
    """The one transaction of *handler*'s run: committed when the block
    ends, rolled back — directories included — when it fails.  Warnings
    are printed once it has committed."""
    try:
        yield handler
        handler.commit()
    except BaseException:
        handler.rollback()
        raise
    finally:
        handler.close()
    out.warnings(handler)


def with_handler(func=None, *, report=None):
    """Hand the command ``func(args, handler)`` its handler.

    Inside ``vmm batch`` that is the batch's (``args.batch``), whose
    transaction the line joins; otherwise a new one whose transaction
    holds the command.  ``report(args, result)``, when given, prints what
    must wait until the work is done (a generated password: it is valid
    only once the account exists).
    """
    if func is None:
        return functools.partial(with_handler, report=report)

    @functools.wraps(func)
    def command(args):
        batch = getattr(args, 'batch', None)
        if batch is not None:
            result = func(args, batch)
            batch.end_command(args.command_line)
            args.out.warnings(batch)
        else:
            from vmm.cli import COMMANDS
            from vmm.handler import Handler
            handler = Handler(args.config,
                              read_write=COMMANDS[args.command][2],
                              command_line=args.command_line)
            with transaction(handler, args.out):
                result = func(args, handler)
        if report is not None:
            report(args, result)
    return command


def print_generated(args, generated):
    """Report of the commands that may generate a password: *generated*
    is (address, password) or None."""
    if generated:
        args.out.line(_('Generated password for %(address)s: %(password)s')
                      % {'address': generated[0], 'password': generated[1]})


def read_password(handler, out, given, address):
    """The new account's password: *given*, else generated (with
    account.random_password), else asked twice on a terminal, else one
    line from standard input.  Returns (password, was_generated)."""
    if given is not None:
        if not given:
            raise VMMError(_('An empty password is not allowed'),
                           errors.ACCOUNT_MISSING_PASSWORD)
        return given, False
    if handler.config['account.random_password']:
        return handler.random_password(), True
    if handler.batch:
        raise VMMError(_("No password given for '%s': a batch cannot ask "
                         "for one (use -p, or account.random_password)")
                       % address, errors.ACCOUNT_MISSING_PASSWORD)
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        password = line.rstrip('\r\n')
        if not password:
            raise VMMError(_("No password given for '%s' (use -p, a line on "
                             'standard input, or account.random_password)')
                           % address, errors.ACCOUNT_MISSING_PASSWORD)
        return password, False
    import getpass
    for _try in range(3):
        try:
            first = getpass.getpass(_('Enter new password: '))
            second = getpass.getpass(_('Retype new password: '))
        except EOFError:
            raise KeyboardInterrupt from None
        if not first:
            out.warning(_('An empty password is not allowed'))
        elif first != second:
            out.warning(_('The passwords do not match'))
        else:
            return first, False
    raise VMMError(_('Too many failed attempts'),
                   errors.VMM_TOO_MANY_FAILURES)
