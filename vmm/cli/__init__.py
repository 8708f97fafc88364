"""The ``vmm`` command: parse, call the handler, print, map errors to exit
codes.

Only the parser of the subcommand being run is built (and only its module
imported), so that a command starts nearly as fast as the interpreter;
``vmm help`` and ``vmm -h`` build them all.
"""

import sys

from vmm import errors
from vmm.errors import VMMError
from vmm.i18n import _

# long name: (short name, module in vmm.cli, changes the database)
COMMANDS = {
    'configget': ('cg', 'config_cmd', False),
    'configset': ('cs', 'config_cmd', False),
    'configure': ('cf', 'config_cmd', False),
    'getuser': ('gu', 'account_cmd', False),
    'listdomains': ('ld', 'list_cmd', False),
    'listaddresses': ('ll', 'list_cmd', False),
    'listaliases': ('la', 'list_cmd', False),
    'listrelocated': ('lr', 'list_cmd', False),
    'listusers': ('lu', 'list_cmd', False),
    'listpwschemes': ('lp', 'account_cmd', False),
    'help': ('h', 'general_cmd', False),
    'version': ('v', 'general_cmd', False),
    'domainadd': ('da', 'domain_cmd', True),
    'domaindelete': ('dd', 'domain_cmd', True),
    'domaininfo': ('di', 'domain_cmd', False),
    'domainquota': ('dq', 'domain_cmd', True),
    'domainservices': ('ds', 'domain_cmd', True),
    'domaintransport': ('dt', 'domain_cmd', True),
    'domainnote': ('do', 'domain_cmd', True),
    'domainlimits': ('dl', 'domain_cmd', True),
    'aliasdomainadd': ('ada', 'aliasdomain_cmd', True),
    'aliasdomaindelete': ('add', 'aliasdomain_cmd', True),
    'aliasdomaininfo': ('adi', 'aliasdomain_cmd', False),
    'aliasdomainswitch': ('ads', 'aliasdomain_cmd', True),
    'relaydomainadd': ('rla', 'aliasdomain_cmd', True),
    'relaydomaindelete': ('rld', 'aliasdomain_cmd', True),
    'relaydomaininfo': ('rli', 'aliasdomain_cmd', False),
    'useradd': ('ua', 'account_cmd', True),
    'userdelete': ('ud', 'account_cmd', True),
    'userinfo': ('ui', 'account_cmd', False),
    'username': ('un', 'account_cmd', True),
    'userpassword': ('up', 'account_cmd', True),
    'usernote': ('uo', 'account_cmd', True),
    'userquota': ('uq', 'account_cmd', True),
    'userservices': ('us', 'account_cmd', True),
    'usertransport': ('ut', 'account_cmd', True),
    'uservacation': ('uv', 'vacation_cmd', True),
    'aliasadd': ('aa', 'alias_cmd', True),
    'aliasdelete': ('ad', 'alias_cmd', True),
    'aliasinfo': ('ai', 'alias_cmd', False),
    'relocatedadd': ('ra', 'alias_cmd', True),
    'relocateddelete': ('rd', 'alias_cmd', True),
    'relocatedinfo': ('ri', 'alias_cmd', False),
    'catchalladd': ('caa', 'alias_cmd', True),
    'catchalldelete': ('cad', 'alias_cmd', True),
    'catchallinfo': ('cai', 'alias_cmd', False),
    'dbupgrade': ('dbu', 'general_cmd', True),
    'batch': ('ba', 'batch_cmd', True),
    'check': ('ck', 'check_cmd', False),
    'export': ('ex', 'exchange_cmd', False),
    'import': ('im', 'exchange_cmd', True),
    'log': ('lg', 'exchange_cmd', False),
    'dkimadd': ('dka', 'dkim_cmd', True),
    'dkiminfo': ('dki', 'dkim_cmd', False),
    'dkimrotate': ('dkr', 'dkim_cmd', True),
    'dkimactivate': ('dkac', 'dkim_cmd', True),
    'dkimdelete': ('dkd', 'dkim_cmd', True),
}
SHORT_NAMES = {short: long for long, (short, _m, _w) in COMMANDS.items()}


def command_name(name):
    """The long name of a subcommand given by its long or short name."""
    return name if name in COMMANDS else SHORT_NAMES.get(name)


def main(argv=None):
    """Entry point of the ``vmm`` script; returns the exit status."""
    previous = _stop_like_ctrl_c()
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    finally:
        _restore_signals(previous)
    if argv is None:
        sys.exit(code)
    return code


def run(argv):
    if argv[:1] == ['_complete']:
        from vmm.completion import main as complete
        return complete(argv[1:])
    from vmm.cli.output import Output, setup_streams
    # Known before parsing, so that even a usage error comes as JSON.
    out = Output(json='--json' in (argv[:argv.index('--')] if '--' in argv
                                   else argv))
    try:
        setup_streams()
        code = _run(argv, out)
    except KeyboardInterrupt:       # before the command began
        out.error(_('interrupted'), errors.INTERRUPTED)
        code = errors.INTERRUPTED
    # The command is over: a signal now would only cut its output short.
    _ignore_signals()
    try:
        out.finish()
    except BrokenPipeError:
        # The reader went away (| head): not an error of ours.  Point
        # stdout at /dev/null so that the interpreter's final flush is
        # quiet too.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


_SIGNALS = ('SIGINT', 'SIGTERM', 'SIGHUP')


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _ignored(signum, frame):
    pass


def _stop_like_ctrl_c():
    """SIGTERM and SIGHUP end a run as Ctrl-C does: rolled back, one line,
    exit 3.  Returns the handlers they had."""
    import signal
    return {name: signal.signal(getattr(signal, name), _interrupt)
            for name in _SIGNALS}


def _ignore_signals():
    # A Python function, not SIG_IGN: programs started later (doveadm)
    # must not inherit an ignored SIGTERM.
    import signal
    for name in _SIGNALS:
        signal.signal(getattr(signal, name), _ignored)


def _restore_signals(previous):
    import signal
    for name, handler in previous.items():
        signal.signal(getattr(signal, name), handler)


def _run(argv, out):
    try:
        from vmm.cli.parser import parse_command_line
        args = parse_command_line(argv)
        args.out = out
        if args.version:
            from vmm.cli.general_cmd import print_version
            print_version(out)
            return 0
        if not getattr(args, 'func', None):
            out.error(_('no subcommand given; see `vmm help`'),
                         errors.USAGE)
            return errors.USAGE
        return args.func(args) or 0
    except VMMError as err:
        out.error(err.msg, err.code)
        return err.code
    except KeyboardInterrupt:
        out.error(_('interrupted'), errors.INTERRUPTED)
        return errors.INTERRUPTED
    except Exception as err:
        # A database failure not foreseen where it happened: still one
        # line and exit 35, never a traceback (the transaction is rolled
        # back already).
        if not type(err).__module__.startswith('psycopg2'):
            raise
        from vmm.database import first_line
        out.error(_('Database error: %s') % first_line(err),
                     errors.DATABASE_ERROR)
        return errors.DATABASE_ERROR
