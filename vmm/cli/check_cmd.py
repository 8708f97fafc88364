"""check: verify a live installation (vmm(1))."""

import os
import sys

from vmm import errors
from vmm.cli.parser import add_command
from vmm.errors import VMMError
from vmm.i18n import _


def read_password(address):
    """The password of --user: prompted without echo on a terminal, else
    one line of standard input."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip('\r\n')
    else:
        import getpass
        try:
            password = getpass.getpass(_('Password for %s: ') % address)
        except EOFError:
            raise KeyboardInterrupt from None
    if not password:
        raise VMMError(_("No password given for '%s' (use --password, the "
                         'prompt, or a line on standard input)') % address,
                       errors.ACCOUNT_MISSING_PASSWORD)
    return password


def _arguments(args):
    """Validated --postfix-dir, --dovecot-config, --user, --password."""
    if args.password is not None and args.user is None:
        raise VMMError(_('--password needs --user'), errors.USAGE)
    if args.postfix_dir is not None and not os.path.isdir(args.postfix_dir):
        raise VMMError(_("No such directory: '%s' (--postfix-dir)")
                       % args.postfix_dir, errors.NO_SUCH_DIRECTORY)
    if args.dovecot_config is not None and \
            not os.path.isfile(args.dovecot_config):
        raise VMMError(_("No such file: '%s' (--dovecot-config)")
                       % args.dovecot_config, errors.INVALID_OPTION)
    user = password = None
    if args.user is not None:
        from vmm.models.values import EmailAddress
        user = EmailAddress(args.user)
        password = args.password
        if password is None:
            password = read_password(str(user))
        elif not password:
            raise VMMError(_('An empty password is not allowed'),
                           errors.ACCOUNT_MISSING_PASSWORD)
    return user, password


def do_check(args):
    from vmm import check
    from vmm.config import Config
    user, password = _arguments(args)
    config = Config.load(args.config)
    results = check.run_checks(config, args.postfix_dir, args.dovecot_config,
                               user, password)
    failures = check.failed(results)
    if args.out.json:
        args.out.items('checks', None, (
            {'name': r.name, 'status': r.status, 'detail': r.detail}
            for r in results))
        args.out.field('failed', failures)
    else:
        for result in results:
            args.out.line('%-7s  %s: %s' % (result.status, result.name,
                                            result.detail))
    return errors.CHECK_FAILED if failures else 0


def build_check(sub, name, short):
    p = add_command(
        sub, name, short, _('verify the installation: database, mail '
                            'directory, Postfix, Dovecot, roles'),
        do_check,
        description=_('Check a live installation and print one line per '
                      'check (ok, warning or FAIL, and what to do). Nothing '
                      'is changed. Exit status 74 when a check failed.'))
    p.add_argument('--postfix-dir', metavar='DIR',
                   help=_("Postfix's configuration directory (default: what "
                          '`postconf -h config_directory` says)'))
    p.add_argument('--dovecot-config', metavar='FILE',
                   help=_("Dovecot's configuration file (default: "
                          "misc.dovecot_config, else %s)")
                   % '/etc/dovecot/dovecot.conf')
    p.add_argument('--user', metavar='ADDRESS',
                   help=_('also try this account with `doveadm auth test` '
                          'and `doveadm user`'))
    p.add_argument('--password', metavar='PASSWORD',
                   help=_("the account's password (default: prompted, or "
                          'a line of standard input)'))
    return p


BUILDERS = {
    'check': build_check,
}
