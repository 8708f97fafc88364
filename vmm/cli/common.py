"""Glue shared by the command modules: running a handler in one
transaction, reading passwords."""

import sys

from vmm import errors
from vmm.cli import output
from vmm.errors import VMMError
from vmm.i18n import _

# The handler of the running ``vmm batch``: its subcommands share its
# connection and transaction instead of opening their own.
batch_handler = None


def run(args, work):
    """Run ``work(handler)`` as one transaction and return its result.

    Warnings are printed once the transaction has committed; on any
    failure everything is rolled back, directories included.  Inside a
    batch, the work joins the batch's transaction.
    """
    from vmm.cli import COMMANDS
    from vmm.handler import Handler
    command_line = getattr(args, 'command_line', 'vmm ' + args.command)
    if batch_handler is not None:
        result = work(batch_handler)
        batch_handler.end_command(command_line)
        for message in batch_handler.warnings:
            output.warning(message)
        batch_handler.warnings.clear()
        return result
    handler = Handler(args.config, read_write=COMMANDS[args.command][2],
                      command_line=command_line)
    try:
        result = work(handler)
        handler.commit()
    except BaseException:
        handler.rollback()
        raise
    finally:
        handler.close()
    for message in handler.warnings:
        output.warning(message)
    return result


def read_password(handler, given, address):
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
            output.warning(_('An empty password is not allowed'))
        elif first != second:
            output.warning(_('The passwords do not match'))
        else:
            return first, False
    raise VMMError(_('Too many failed attempts'),
                   errors.VMM_TOO_MANY_FAILURES)
