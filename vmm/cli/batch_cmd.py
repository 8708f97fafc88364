"""vmm batch: many subcommands in one process, one connection and one
transaction — all or nothing, or each line on its own with
--continue-on-error."""

import shlex
import sys

from vmm import errors
from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.errors import VMMError
from vmm.i18n import _

# Subcommands that make no sense inside a batch: they ask questions, work
# on the configuration file or the schema, or are a batch themselves.
NOT_IN_BATCH = frozenset(('batch', 'configure', 'configset', 'configget',
                          'help', 'version', 'dbupgrade', 'check'))


class _LineParsers:
    """One parser per subcommand, built when a line first needs it."""

    def __init__(self):
        self._parsers = {}

    def parse(self, argv):
        from vmm.cli import command_name
        from vmm.cli.parser import build_parser, parse_subcommand
        name = command_name(argv[0])
        if name is None:
            from vmm.cli.parser import unknown_subcommand
            raise unknown_subcommand(argv[0])
        if name in NOT_IN_BATCH:
            raise VMMError(_("'%s' cannot run inside a batch") % argv[0],
                           errors.USAGE)
        if name not in self._parsers:
            self._parsers[name] = build_parser(name)
        try:
            args = parse_subcommand(self._parsers[name], name, argv)
        except SystemExit:  # -h printed the help
            raise VMMError(_('-h cannot run inside a batch'),
                           errors.USAGE) from None
        return args

    def shown(self, argv):
        """The line as an error shows it: no password, not even one that
        follows a mistyped option."""
        from vmm.cli import command_name
        from vmm.cli.parser import shown_words
        name = command_name(argv[0])
        if name not in self._parsers:
            # Unknown: what follows (or is attached) may be anything.
            return argv[0].partition('=')[0] if argv[0].startswith('-') \
                else argv[0]
        return ' '.join(shown_words(self._parsers[name], argv))


# shlex takes time quadratic in the length of one word: a bound keeps a
# runaway line from stalling the batch (aliasadd with 1,000 destinations
# is some 40,000 characters).
MAX_LINE = 256 * 1024


def _lines(source):
    """(number, text, argv) of each line that holds a command."""
    for number, text in enumerate(source, 1):
        if len(text) > MAX_LINE:
            # Only the command's name: the rest may hold a password.
            yield number, (text.split(None, 1) or [''])[0][:40] + ' …', \
                VMMError(
                    _('the line is longer than %d characters') % MAX_LINE,
                    errors.USAGE)
            continue
        try:
            argv = shlex.split(text, comments=True)
        except ValueError as err:
            yield number, text.strip(), VMMError(
                _('cannot split the line: %s') % err, errors.USAGE)
            continue
        if argv:
            yield number, text.strip(), argv


def _line_count(path, out):
    """The number of lines of the batch file, for the progress line: only
    for a file (standard input cannot be read twice) and only when it is
    shown; counting is a quick read of bytes."""
    from vmm.cli.progress import enabled
    if path == '-' or not enabled(out):
        return None
    try:
        with open(path, 'rb') as source:
            return sum(block.count(b'\n') for block in
                       iter(lambda: source.read(1 << 20), b''))
    except OSError:
        return None


def do_batch(args):
    from vmm.cli.progress import progress
    from vmm.handler import Handler
    out = args.out
    source = _stdin() if args.file == '-' else _open(args.file)
    handler = Handler(args.config, read_write=True)
    handler.batch = True
    parsers = _LineParsers()
    first_failure = None
    try:
        with common.transaction(handler, out):
            lines = progress(source, _line_count(args.file, out),
                             _('batch'), out)
            for number, text, argv in _lines(lines):
                try:
                    if isinstance(argv, VMMError):
                        raise argv
                    line_args = parsers.parse(argv)
                    line_args.config, line_args.out = args.config, out
                    # Its handler, whose transaction the line joins.
                    line_args.batch = handler
                    if args.continue_on_error:
                        with handler.savepoint():
                            line_args.func(line_args)
                    else:
                        line_args.func(line_args)
                except VMMError as err:
                    if not isinstance(argv, VMMError):
                        text = parsers.shown(argv)
                    out.error(_('line %(number)d: %(line)s: %(error)s')
                              % {'number': number, 'line': text,
                                 'error': err.msg}, err.code)
                    if first_failure is None:
                        first_failure = err.code
                    if not args.continue_on_error:
                        raise _Abort() from None
    except _Abort:
        out.error(_('nothing was changed'), first_failure)
    finally:
        if args.file != '-':
            source.close()
    return first_failure or 0


class _Abort(Exception):
    """A line failed and the whole batch is rolled back."""


def _stdin():
    """Standard input as UTF-8; undecodable bytes reach the validators
    (as surrogates) and are refused there, with the line's number."""
    import io
    if hasattr(sys.stdin, 'buffer'):
        return io.TextIOWrapper(sys.stdin.buffer, encoding='utf-8',
                                errors='surrogateescape')
    return sys.stdin


def _open(path):
    try:
        return open(path, encoding='utf-8', errors='surrogateescape')
    except OSError as err:
        raise VMMError(_("Cannot read the batch file '%(file)s': %(error)s")
                       % {'file': path, 'error': err.strerror},
                       errors.INVALID_OPTION) from None


def build_batch(sub, name, short):
    p = add_command(sub, name, short,
                    _('run subcommands from a file (one per line, shell '
                      'quoting, # comments) in one transaction'), do_batch)
    p.add_argument('file', metavar='FILE', nargs='?', default='-',
                   help=_('the batch file; - or nothing reads standard '
                          'input'))
    p.add_argument('--continue-on-error', action='store_true',
                   help=_('apply the lines that work and report the others '
                          '(each line is then all or nothing by itself)'))
    return p


BUILDERS = {'batch': build_batch}
