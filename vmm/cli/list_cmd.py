"""listdomains, listaddresses, listaliases, listrelocated, listusers.

Rows are printed as they arrive from the database, so a listing of a
million addresses does not sit in memory."""

from vmm.cli import common, output
from vmm.cli.parser import add_command
from vmm.i18n import _

_KINDS = {
    'listaddresses': ('account', 'alias', 'relocated'),
    'listaliases': ('alias',),
    'listrelocated': ('relocated',),
    'listusers': ('account',),
}


def do_listdomains(args):
    def work(handler):
        from vmm.models import listing
        from vmm.models.values import display_domain
        marks = {'primary': '[+]', 'alias': '    [-]', 'relay': '[r]'}
        output.items(_('Matching domains'), (
            '%s %s' % (marks[kind], display_domain(name))
            for kind, name, _primary in listing.domains(handler.conn,
                                                        args.pattern)))
    common.run(args, work)


def do_listaddresses(args):
    def work(handler):
        from vmm.models import listing
        from vmm.models.values import display_domain
        show_kind = args.command == 'listaddresses'
        titles = {'listaddresses': _('Matching addresses'),
                  'listaliases': _('Matching aliases'),
                  'listrelocated': _('Matching relocated users'),
                  'listusers': _('Matching user accounts')}
        output.items(titles[args.command], (
            '%s %s%s@%s' % ('[+]' if primary else '[-]',
                            kind + ' ' if show_kind else '', local,
                            display_domain(domain))
            for kind, local, domain, primary in listing.addresses(
                handler.conn, args.pattern, _KINDS[args.command])))
    common.run(args, work)


def _build(help_text, func):
    def build(sub, name, short):
        p = add_command(sub, name, short, help_text, func)
        p.add_argument('-p', '--pattern', metavar='PATTERN',
                       help=_('only entries matching PATTERN; %% at its '
                              'start or end is a wildcard, e.g. %%example%% '
                              'or %%user%%@%%example%%'))
        return p
    return build


BUILDERS = {
    'listdomains': _build(_('list the domains: [+] primary, [-] alias, '
                            '[r] relay'), do_listdomains),
    'listaddresses': _build(_('list all addresses: u account, a alias, '
                              'r relocated'), do_listaddresses),
    'listaliases': _build(_('list the aliases'), do_listaddresses),
    'listrelocated': _build(_('list the relocated users'), do_listaddresses),
    'listusers': _build(_('list the accounts'), do_listaddresses),
}
