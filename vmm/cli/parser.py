"""argparse set-up shared by the command modules."""

import argparse
import importlib

from vmm import errors, i18n
from vmm.i18n import _

# argparse's own messages (usage, errors, section titles) come from vmm's
# catalogs too.
argparse._ = i18n._
argparse.ngettext = i18n.ngettext


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized without importing shutil (which drags
    in the compression modules) on every run: argparse builds one even
    when no help is printed."""

    def __init__(self, prog, indent_increment=2, max_help_position=24,
                 width=None):
        if width is None:
            import os
            try:
                width = os.get_terminal_size().columns - 2
            except OSError:
                width = 78
        super().__init__(prog, indent_increment, max_help_position, width)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with vmm's one-line errors (exit 2, SPEC §8)."""

    def error(self, message):
        from vmm.errors import VMMError
        raise VMMError('%s (%s)' % (message, _('see `%s -h`') % self.prog),
                       errors.USAGE)


def build_parser(only=None):
    """The top-level parser with the subparser of *only*, or all."""
    from vmm.cli import COMMANDS
    parser = ArgumentParser(
        prog='vmm', add_help=True, allow_abbrev=False,
        formatter_class=HelpFormatter,
        description=_('Manage the domains, accounts, aliases and relocated '
                      'users of a Postfix + Dovecot mail server kept in '
                      'PostgreSQL.'),
        epilog=_('`vmm help SUBCOMMAND` describes a subcommand.'))
    parser.add_argument('-v', '--version', action='store_true',
                        help=_('show the version and exit'))
    parser.add_argument('--json', action='store_true',
                        help=_('print info and list output as one JSON '
                               'document (keys in vmm(1))'))
    parser.add_argument('-c', '--config', metavar='FILE',
                        help=_('the configuration file (default: '
                               '$VMM_CONFIG, then /root/vmm.cfg, '
                               '/usr/local/etc/vmm.cfg, /etc/vmm.cfg, '
                               '/etc/vmm/vmm.cfg)'))
    sub = parser.add_subparsers(title=_('subcommands'), metavar='SUBCOMMAND',
                                parser_class=ArgumentParser)
    names = [only] if only else list(COMMANDS)
    for name in names:
        short, module_name, _writes = COMMANDS[name]
        module = importlib.import_module('vmm.cli.' + module_name)
        subparser = module.BUILDERS[name](sub, name, short)
        subparser.set_defaults(command=name)
    parser.subparsers = sub
    return parser


def add_command(sub, name, short, help_text, func, description=None):
    """A subparser reachable by its long and its short name."""
    # No abbreviated long options: --pass must not slip a password past
    # the audit log's filter, and scripts should spell options out.
    parser = sub.add_parser(name, aliases=[short], help=help_text,
                            description=description or help_text,
                            allow_abbrev=False,
                            formatter_class=HelpFormatter)
    parser.set_defaults(func=func)
    # --json may also follow the subcommand.
    parser.add_argument('--json', action='store_true',
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser
