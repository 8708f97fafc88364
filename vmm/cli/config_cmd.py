"""configget, configset, configure."""

import sys

from vmm import errors
from vmm.cli.parser import add_command
from vmm.errors import VMMError
from vmm.i18n import _
from vmm.text import has_control


def do_configget(args):
    from vmm.config import Config
    config = Config.load(args.config)
    args.out.line('%s = %s' % (args.option, config.text(args.option)))


def _check_one_line(name, value):
    """A value is one line of text: a line break would write another
    option into vmm.cfg, a NUL or other control character a broken one."""
    if has_control(value):
        raise VMMError(_("Invalid value for '%s': control characters and "
                         "invalid Unicode are not allowed") % name,
                       errors.CONF_ERROR)


def do_configset(args):
    from vmm.config import Config, split_option
    config = Config.load(args.config)
    split_option(args.option)
    _check_one_line(args.option, args.value)
    config.set(args.option, args.value)
    warn_others_write(args.out, config)


def warn_others_write(out, config):
    """The explicit choice of misc.allow_others_write, said each time."""
    from vmm.config import others_may_write
    for name in others_may_write(config.values()):
        out.warning(_('%(option)s = %(mode)04o lets others write in the '
                      'directories (misc.allow_others_write is on)')
                    % {'option': name, 'mode': config[name]})


def do_configure(args):
    """Ask for each option of a section (or all); Enter keeps the value."""
    from vmm.config import OPTIONS, Config, parse_value
    config = Config.load(args.config)
    if args.section is not None and args.section not in OPTIONS:
        raise VMMError(_("Unknown section: '%s'") % args.section,
                       errors.INVALID_SECTION)
    sections = [args.section] if args.section else list(OPTIONS)
    changes = []
    for section in sections:
        args.out.line(_('Using configuration file: %s') % config.path
                      if section == sections[0] else '')
        args.out.line('* %s' % section)
        for option in OPTIONS[section]:
            name = '%s.%s' % (section, option)
            current = config.text(name)
            for _try in range(3):
                sys.stdout.write('  %s [%s]: ' % (option, current))
                sys.stdout.flush()
                answer = sys.stdin.readline()
                if not answer:
                    raise KeyboardInterrupt
                answer = answer.strip()
                if not answer or answer == current:
                    break
                try:
                    _check_one_line(name, answer)
                    parse_value(section, option, answer)
                except VMMError as err:
                    args.out.warning(err.msg)
                    continue
                changes.append((name, answer))
                break
            else:
                raise VMMError(_('Too many invalid values for %s') % name,
                               errors.VMM_TOO_MANY_FAILURES)
    if changes:
        config.set_many(changes)
        warn_others_write(args.out, config)


def build_configget(sub, name, short):
    p = add_command(sub, name, short, _("print a configuration option's "
                                        "value"), do_configget)
    p.add_argument('option', metavar='OPTION', help=_('section.option'))
    return p


def build_configset(sub, name, short):
    p = add_command(sub, name, short, _('validate and store a configuration '
                                        'option (the old file is kept as '
                                        'vmm.cfg.bak)'), do_configset)
    p.add_argument('option', metavar='OPTION', help=_('section.option'))
    p.add_argument('value', metavar='VALUE')
    return p


def build_configure(sub, name, short):
    p = add_command(sub, name, short, _('set configuration options '
                                        'interactively'), do_configure)
    p.add_argument('-s', '--section', help=_('only this section'))
    return p


BUILDERS = {
    'configget': build_configget,
    'configset': build_configset,
    'configure': build_configure,
}
