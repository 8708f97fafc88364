"""help, version and dbupgrade."""

import sys

from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.i18n import _


def print_version(out):
    from vmm import __version__
    out.line(_('vmm %s — virtual mail manager for Postfix and Dovecot '
               'with PostgreSQL') % __version__)
    out.line(_('Licence: BSD 3-clause; see COPYING.'))


def do_version(args):
    print_version(args.out)


def do_help(args):
    from vmm.cli import COMMANDS, command_name
    from vmm.cli.parser import build_parser
    if args.subcommand is None:
        parser = build_parser()
        parser.print_help()
        args.out.line()
        args.out.line(_('Subcommands (long and short names):'))
        for name, (short, _module, _writes) in COMMANDS.items():
            args.out.line('  %-20s %-5s' % (name, short))
        return
    name = command_name(args.subcommand)
    if name is None:
        from vmm.cli.parser import unknown_subcommand
        raise unknown_subcommand(args.subcommand)
    parser = build_parser(name)
    parser.subparsers.choices[name].print_help(sys.stdout)


def _upgraded(args, versions):
    before, after = versions
    if before is None:
        args.out.line(_('Created the vmm schema (version %d).') % after)
    elif before == after:
        args.out.line(_('The database schema is current (version %d); '
                        'nothing to do.') % after)
    elif before == 0:
        args.out.line(_('Upgraded the vmm 0.6/0.7 database to schema '
                        'version %d.') % after)
    else:
        args.out.line(_('Upgraded the database schema from version '
                        '%(before)d to %(after)d.')
                      % {'before': before, 'after': after})


@common.with_handler(report=_upgraded)
def do_dbupgrade(args, handler):
    return handler.db_upgrade()


def build_help(sub, name, short):
    p = add_command(sub, name, short, _('show help on vmm or a subcommand'),
                    do_help)
    p.add_argument('subcommand', metavar='SUBCOMMAND', nargs='?')
    return p


def build_version(sub, name, short):
    return add_command(sub, name, short, _('show the version and licence'),
                       do_version)


def build_dbupgrade(sub, name, short):
    return add_command(sub, name, short,
                       _('create the schema in an empty database, or bring '
                         'an older one (also vmm 0.6/0.7) to the current '
                         'version'), do_dbupgrade)


BUILDERS = {
    'help': build_help,
    'version': build_version,
    'dbupgrade': build_dbupgrade,
}
