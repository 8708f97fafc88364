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


def help_hint(command=None):
    """Where a usage error sends the reader: one place for every mistake."""
    if command:
        return _('see `vmm help %s`') % command
    return _('see `vmm help`')


def usage_error(message, command=None):
    from vmm.errors import VMMError
    return VMMError('%s (%s)' % (_redact(message), help_hint(command)),
                    errors.USAGE)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with vmm's one-line errors (exit 2, vmm(1) EXIT STATUS)."""

    def error(self, message):
        words = self.prog.split()
        raise usage_error(message, words[1] if len(words) > 1 else None)


# The destinations of the options whose value is a password or a hash:
# never shown in an error, never written to the audit log.
_SECRET_DESTS = ('password', 'hash')

# The words of the command line being parsed that a usage error must not
# show: what follows a password option or an option vmm does not know (a
# mistyped --pass is followed by the password).
_secrets = set()


def _option_name(arg):
    if arg.startswith('--'):
        return arg.partition('=')[0], arg.partition('=')[2]
    return arg[:2], arg[2:]


def _find_secrets(argv, known, secret):
    secrets = set()
    for index, arg in enumerate(argv):
        if arg == '--':
            break
        if not arg.startswith('-') or arg == '-':
            continue
        name, attached = _option_name(arg)
        if name in secret or name not in known:
            if attached:
                secrets.add(attached)
            if index + 1 < len(argv):
                secrets.add(argv[index + 1])
    secrets.discard('')
    return secrets


def _redact(message):
    import re
    for secret in sorted(_secrets, key=len, reverse=True):
        message = re.sub(r"(?<![^\s'\"])%s(?![^\s'\",)])"
                         % re.escape(secret), '***', message)
    return message


def _shown_extra(arg):
    if arg.startswith('-') and arg != '-':
        return _option_name(arg)[0]
    return '***' if arg in _secrets else arg


def _options(parser):
    """(every option string the parser knows, those whose value is a
    password or a hash)."""
    actions = dict(parser._option_string_actions)
    for sub in parser.subparsers.choices.values():
        actions.update(sub._option_string_actions)
    return set(actions), {option for option, action in actions.items()
                          if action.dest in _SECRET_DESTS}


def parse_command_line(argv):
    """The parsed *argv*, or a one-line usage error that names the wrong
    word (a mistyped subcommand with the nearest one) and never shows a
    password given on the command line."""
    from vmm.cli import command_name
    global _secrets
    position, word = _subcommand_word(argv)
    top = {'-h', '--help', '-v', '--version', '--json', '-c', '--config'}
    _secrets = _find_secrets(argv, top, set())
    for arg in argv[:position]:
        if arg.startswith('-') and _option_name(arg)[0] not in top:
            raise usage_error(_('unrecognized arguments: %s')
                              % _option_name(arg)[0])
    name = command_name(word) if word is not None else None
    if word is not None and name is None:
        raise unknown_subcommand(word)
    return parse_subcommand(build_parser(name), name, argv)


def parse_subcommand(parser, name, argv):
    """*argv* parsed by *parser* (built for subcommand *name*); unknown
    words are a usage error that shows no password."""
    global _secrets
    known, secret = _options(parser)
    _secrets = _find_secrets(argv, known, secret)
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:
            raise usage_error(_('unrecognized arguments: %s') % ' '.join(
                _shown_extra(arg) for arg in extras), name)
    finally:
        _secrets = set()
    # What the audit log records of it.
    args.command_line = ' '.join(['vmm'] + shown_words(parser, argv))
    return args


def shown_words(parser, argv):
    """*argv* with every word a usage error must not show as ``***``."""
    known, secret = _options(parser)
    secrets = _find_secrets(argv, known, secret)
    shown = []
    for arg in argv:
        name, attached = _option_name(arg)
        if arg.startswith('-') and attached and \
                (name in secret or name not in known):
            shown.append(name + ('=***' if arg.startswith('--') else '***'))
        else:
            shown.append('***' if arg in secrets else arg)
    return shown


def unknown_subcommand(word):
    """Exit 2 naming the mistyped subcommand and the nearest real one."""
    import difflib

    from vmm.cli import COMMANDS, SHORT_NAMES
    close = difflib.get_close_matches(word, list(COMMANDS), n=1)
    if not close:
        close = [SHORT_NAMES[m] for m in difflib.get_close_matches(
            word, list(SHORT_NAMES), n=1)] if len(word) <= 4 else []
    from vmm.text import printable
    shown = printable(_option_name(word)[0] if word.startswith('-')
                      else word)
    if close:
        message = _("unknown subcommand '%(word)s'; did you mean "
                    "%(name)s?") % {'word': shown, 'name': close[0]}
    else:
        message = _("unknown subcommand '%s'") % shown
    return usage_error(message)


def _subcommand_word(argv):
    """(index, word) of the subcommand in *argv*, skipping the global
    options; (len(argv), None) without one."""
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in ('-c', '--config'):
            skip = True
        elif arg == '--':
            return (index + 1, argv[index + 1]) if index + 1 < len(argv) \
                else (len(argv), None)
        elif not arg.startswith('-'):
            return index, arg
    return len(argv), None


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
