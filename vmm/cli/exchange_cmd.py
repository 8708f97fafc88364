"""export, import and log."""

from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.i18n import _, ngettext


def _summary(counts):
    parts = [
        ngettext('%d domain', '%d domains', counts['domains']),
        ngettext('%d alias domain', '%d alias domains',
                 counts['alias_domains']),
        ngettext('%d account', '%d accounts', counts['accounts']),
        ngettext('%d alias', '%d aliases', counts['aliases']),
        ngettext('%d catch-all destination', '%d catch-all destinations',
                 counts['catchall']),
        ngettext('%d relocated user', '%d relocated users',
                 counts['relocated']),
        ngettext('%d relay domain', '%d relay domains',
                 counts['relay_domains']),
    ]
    keys = ('domains', 'alias_domains', 'accounts', 'aliases', 'catchall',
            'relocated', 'relay_domains')
    return ', '.join(part % counts[key] for part, key in zip(parts, keys))


def _exported(args, counts):
    if args.output in (None, '-'):
        return
    if args.out.json:
        args.out.field('exported', counts)
        args.out.field('file', args.output)
    else:
        args.out.line(_('Exported %(what)s to %(file)s')
                      % {'what': _summary(counts), 'file': args.output})


@common.with_handler(report=_exported)
def do_export(args, handler):
    from vmm.cli.progress import reporter
    from vmm.exchange import export
    to_file = args.output not in (None, '-')
    with export.output_file(args.output) as write:
        return export.export(handler, write, args.domains,
                             reporter(args.out) if to_file else None)


def _imported(args, counts):
    if args.out.json:
        args.out.field('imported', counts)
        args.out.field('dry_run', args.dry_run)
    elif args.dry_run:
        args.out.line(_('Dry run, nothing written; the file is fine and '
                        'would import %s') % _summary(counts))
    else:
        args.out.line(_('Imported %s') % _summary(counts))


@common.with_handler(report=_imported)
def do_import(args, handler):
    from vmm.cli.progress import reporter
    from vmm.exchange.importing import import_file
    return import_file(handler, args.file, args.dry_run, reporter(args.out))


def _format_time(moment):
    return moment.astimezone().strftime('%Y-%m-%d %H:%M:%S %z')


@common.with_handler
def do_log(args, handler):
    from vmm import auditlog
    out = args.out
    records = auditlog.log_records(handler, args.since, args.pattern)
    if out.json:
        out.items('records', _('Audit log'), (
            {'time': logged_at.isoformat(), 'user': os_user,
             'sudo_user': sudo_user, 'command': command,
             'changes': changes.splitlines(), 'objects': objects}
            for logged_at, os_user, sudo_user, command, changes, objects
            in records))
        return
    for logged_at, os_user, sudo_user, command, changes, _o in records:
        user = _('%(user)s (sudo: %(sudo)s)') % {
            'user': os_user, 'sudo': sudo_user} if sudo_user else os_user
        out.line('%s  %s  %s' % (_format_time(logged_at), user, command))
        for change in changes.splitlines():
            out.line('\t' + change)


def _since(text):
    import argparse

    from vmm import auditlog
    try:
        return auditlog.parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("invalid date: '%s' (use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"
              "[+HH:MM])") % text) from None


def build_export(sub, name, short):
    p = add_command(sub, name, short,
                    _('write domains, accounts, aliases and relay domains '
                      'as one JSON document'), do_export,
                    description=_('Write everything vmm keeps for the '
                                  'given domains, or all, as one JSON '
                                  'document (format vmm-export, version 1, '
                                  'see vmm(1)); it includes password '
                                  'hashes, so a file is created with mode '
                                  '0600.'))
    p.add_argument('-d', '--domain', dest='domains', nargs='+',
                   metavar='FQDN',
                   help=_('only these primary or relay domains (default: '
                          'all)'))
    p.add_argument('-o', '--output', metavar='FILE',
                   help=_('write to FILE instead of standard output'))
    return p


def build_import(sub, name, short):
    p = add_command(sub, name, short,
                    _('load a vmm export or a CSV file of accounts'),
                    do_import,
                    description=_('Load a JSON document written by `vmm '
                                  "export`, or a CSV file of accounts with "
                                  "the header 'address,password,name', in "
                                  'one transaction: all or nothing.'))
    p.add_argument('file', metavar='FILE',
                   help=_("the file to import; '-' reads standard input"))
    p.add_argument('--dry-run', action='store_true',
                   help=_('check everything, write nothing'))
    return p


def build_log(sub, name, short):
    p = add_command(sub, name, short,
                    _('show the audit log of changes, newest last'), do_log)
    p.add_argument('--since', type=_since, metavar='DATE',
                   help=_('only records from DATE on (YYYY-MM-DD or '
                          'YYYY-MM-DDTHH:MM[:SS][+HH:MM], local time)'))
    p.add_argument('-p', '--pattern', metavar='PATTERN',
                   help=_('only records about domains or addresses matching '
                          'PATTERN; %% at its start or end is a wildcard'))
    return p


BUILDERS = {
    'export': build_export,
    'import': build_import,
    'log': build_log,
}
