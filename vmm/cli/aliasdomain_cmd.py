"""aliasdomainadd, aliasdomaindelete, aliasdomaininfo, aliasdomainswitch,
and the relay domains: relaydomainadd, relaydomaindelete,
relaydomaininfo."""

from vmm.cli import common, output
from vmm.cli.parser import add_command
from vmm.i18n import _


def do_aliasdomainadd(args):
    common.run(args, lambda h: h.aliasdomain_add(args.fqdn,
                                                 args.destination))


def do_aliasdomaindelete(args):
    common.run(args, lambda h: h.aliasdomain_delete(args.fqdn))


def do_aliasdomaininfo(args):
    def work(handler):
        from vmm.models.values import display_domain
        alias = handler.aliasdomain_info(args.fqdn)
        output.info('aliasdomain', _('Alias domain information'), [
            ('name', _('Alias domain'), display_domain(alias.name)),
            ('primary', _('Primary domain'), alias.domain.unicode)])
    common.run(args, work)


def do_aliasdomainswitch(args):
    common.run(args, lambda h: h.aliasdomain_switch(args.fqdn,
                                                    args.destination))


def do_relaydomainadd(args):
    common.run(args, lambda h: h.relaydomain_add(
        args.fqdn, args.transport, args.recipient or ()))


def do_relaydomaindelete(args):
    common.run(args, lambda h: h.relaydomain_delete(args.fqdn))


def do_relaydomaininfo(args):
    def work(handler):
        from vmm.models.values import EmailAddress
        relay = handler.relaydomain_info(args.fqdn)
        recipients = relay.recipients()
        shown = [EmailAddress.display(r) for r in recipients]
        output.info('relaydomain', _('Relay domain information'), [
            ('name', _('Relay domain'), relay.unicode),
            ('transport', _('Transport'), relay.transport),
            ('recipients', _('Recipients'),
             ', '.join(shown) if shown else _('any'), shown or None),
            ('note', _('Note'), relay.note)])
    common.run(args, work)


def _with_fqdn(sub, name, short, help_text, func):
    p = add_command(sub, name, short, help_text, func)
    p.add_argument('fqdn', metavar='FQDN')
    return p


def build_aliasdomainadd(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _('create an alias domain of a primary domain'),
                   do_aliasdomainadd)
    p.add_argument('destination', metavar='DESTINATION',
                   help=_('the primary domain'))
    return p


def build_aliasdomaindelete(sub, name, short):
    return _with_fqdn(sub, name, short, _('delete an alias domain'),
                      do_aliasdomaindelete)


def build_aliasdomaininfo(sub, name, short):
    return _with_fqdn(sub, name, short,
                      _('show the primary domain of an alias domain'),
                      do_aliasdomaininfo)


def build_aliasdomainswitch(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _('move an alias domain to another primary domain'),
                   do_aliasdomainswitch)
    p.add_argument('destination', metavar='DESTINATION',
                   help=_('the new primary domain'))
    return p


def build_relaydomainadd(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _('create a relay (backup MX) domain'), do_relaydomainadd)
    p.add_argument('-t', '--transport',
                   help=_('where to pass its mail on (default: '
                          'misc.relay_transport)'))
    p.add_argument('--recipient', nargs='+', metavar='ADDRESS',
                   help=_('accept only these addresses (default: any)'))
    return p


def build_relaydomaindelete(sub, name, short):
    return _with_fqdn(sub, name, short, _('delete a relay domain'),
                      do_relaydomaindelete)


def build_relaydomaininfo(sub, name, short):
    return _with_fqdn(sub, name, short,
                      _('show information about a relay domain'),
                      do_relaydomaininfo)


BUILDERS = {
    'aliasdomainadd': build_aliasdomainadd,
    'aliasdomaindelete': build_aliasdomaindelete,
    'aliasdomaininfo': build_aliasdomaininfo,
    'aliasdomainswitch': build_aliasdomainswitch,
    'relaydomainadd': build_relaydomainadd,
    'relaydomaindelete': build_relaydomaindelete,
    'relaydomaininfo': build_relaydomaininfo,
}
