"""useradd, userdelete, userinfo, username, userpassword, usernote,
userquota, userservices, usertransport, getuser, listpwschemes."""

import argparse

from vmm.cli import common
from vmm.cli.domain_cmd import (
    _services,
    format_quota,
    format_services,
    quota_json,
    services_json,
)
from vmm.cli.parser import add_command
from vmm.i18n import _


@common.with_handler(report=common.print_generated)
def do_useradd(args, handler):
    from vmm.models.values import EmailAddress
    address = EmailAddress(args.address)
    password, generated = common.read_password(
        handler, args.out, args.password, address.unicode)
    shown = handler.user_add(address, password, note=args.note)
    return (shown, password) if generated else None


@common.with_handler
def do_userdelete(args, handler):
    handler.user_delete(args.address,
                        True if args.delete_directory else None, args.force)


def _inherited(value, inherited):
    return '%s %s' % (value, _('[domain default]')) if inherited else value


@common.with_handler
def do_userinfo(args, handler):
    info = handler.user_info(args.address, args.details)
    usage = info.quota_usage
    rows = [
        ('address', _('Address'), info.address),
        ('name', _('Name'), info.name),
        ('uid', _('UID'), info.uid),
        ('gid', _('GID'), info.gid),
        ('home', _('Home'), info.home),
        ('mail_location', _('Mail location'), info.mail_location),
        ('quota', _('Quota limit'), _inherited(
            format_quota(info.quota), info.quota_inherited),
         dict(quota_json(info.quota), inherited=info.quota_inherited)),
        ('quota_usage', _('Quota usage'), _format_usage(usage),
         None if usage is None else {'bytes': usage[0],
                                     'messages': usage[1]}),
        ('transport', _('Transport'), _inherited(
            info.transport, info.transport_inherited),
         {'transport': info.transport,
          'inherited': info.transport_inherited}),
        ('services', _('Services'), _inherited(
            format_services(info.services), info.services_inherited),
         {'enabled': services_json(info.services),
          'inherited': info.services_inherited}),
        ('note', _('Note'), info.note),
    ]
    if info.disk_usage is not None:
        from vmm.models.values import QuotaLimit
        rows.insert(5, ('disk_usage', _('Disk usage'),
                        QuotaLimit.format_bytes(info.disk_usage),
                        info.disk_usage))
    args.out.info('account', _('Account information'), rows)
    if info.pointing_here is not None:
        from vmm.models.values import EmailAddress
        args.out.items(
            'aliases', _('Aliases and catch-alls pointing here'),
            ({'alias': EmailAddress.display(alias),
              'destination': EmailAddress.display(dest)}
             for alias, dest in info.pointing_here),
            text=lambda e: '%s → %s' % (e['alias'], e['destination']))


def _format_usage(usage):
    if usage is None:
        return _('unknown')
    from vmm.models.values import QuotaLimit
    return _('Storage: %(storage)s; Messages: %(messages)d') % {
        'storage': QuotaLimit.format_bytes(usage[0]), 'messages': usage[1]}


@common.with_handler
def do_username(args, handler):
    handler.user_name(args.address, None if args.delete else args.name)


@common.with_handler
def do_usernote(args, handler):
    handler.user_note(args.address, None if args.delete else args.note)


@common.with_handler(report=common.print_generated)
def do_userpassword(args, handler):
    from vmm.models.values import EmailAddress
    if args.hash is not None:
        if args.scheme is not None:
            raise _usage(_('-s/--scheme goes with a password, not with '
                           '--hash (the hash names its scheme)'))
        handler.user_password(args.address, password_hash=args.hash)
        return None
    address = EmailAddress(args.address)
    handler.account(address)
    password, generated = common.read_password(
        handler, args.out, args.password, address.unicode)
    handler.user_password(address, password, args.scheme)
    return (args.address, password) if generated else None


@common.with_handler
def do_userquota(args, handler):
    if args.storage == 'domain' and args.messages is not None:
        raise _usage(_('-m goes with a storage limit, not with "domain"'))
    handler.user_quota(args.address, args.storage, args.messages)


@common.with_handler
def do_userservices(args, handler):
    handler.user_services(args.address, args.enable or (),
                          args.disable or (), args.reset)


@common.with_handler
def do_usertransport(args, handler):
    handler.user_transport(args.address, args.transport)


@common.with_handler
def do_getuser(args, handler):
    owner = handler.get_user(args.uid)
    args.out.info('account', _('Account information'), [
        ('uid', _('UID'), owner.uid),
        ('gid', _('GID'), owner.gid),
        ('address', _('Address'), owner.address)])


def do_listpwschemes(args):
    from vmm.config import Config
    from vmm.password import ENCODINGS, list_schemes
    try:
        doveadm = Config.load(args.config)['bin.doveadm']
    except Exception:  # no usable vmm.cfg: list what vmm itself can do
        doveadm = '/usr/bin/doveadm'
    args.out.items('schemes', _('Usable password schemes'),
                   list_schemes(doveadm))
    args.out.items('encodings', _('Usable encoding suffixes'), ENCODINGS)


def _usage(message):
    from vmm import errors
    from vmm.errors import VMMError
    return VMMError(message, errors.USAGE)


def uid_number(text):
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(_("invalid UID: '%s'") % text)
    return int(text)


def build_useradd(sub, name, short):
    p = add_command(sub, name, short, _('create a new account'), do_useradd)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('-n', '--note', help=_('a note on the account'))
    p.add_argument('-p', '--password',
                   help=_('the password (default: asked for, read from '
                          'standard input, or generated)'))
    return p


def build_userdelete(sub, name, short):
    p = add_command(sub, name, short, _('delete an account'), do_userdelete)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('--delete-directory', action='store_true',
                   help=_("also remove the account's home directory"))
    p.add_argument('--force', action='store_true',
                   help=_('also remove alias destinations pointing at it'))
    return p


def build_userinfo(sub, name, short):
    p = add_command(sub, name, short, _('show information about an '
                                        'account'), do_userinfo)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('-d', '--details', choices=('aliases', 'du', 'full'),
                   help=_('also show the aliases pointing here, the disk '
                          'usage, or both'))
    return p


def _delete_or_set(p, option, help_text):
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument('-d', '--delete', action='store_true',
                       help=_('delete it'))
    group.add_argument('-n', option, dest=option.lstrip('-'),
                       help=help_text)


def build_username(sub, name, short):
    p = add_command(sub, name, short, _("set or delete an account's real "
                                        "name"), do_username)
    p.add_argument('address', metavar='ADDRESS')
    _delete_or_set(p, '--name', _('the new name'))
    return p


def build_usernote(sub, name, short):
    p = add_command(sub, name, short, _("set or delete an account's note"),
                    do_usernote)
    p.add_argument('address', metavar='ADDRESS')
    _delete_or_set(p, '--note', _('the new note'))
    return p


def build_userpassword(sub, name, short):
    p = add_command(sub, name, short, _("change an account's password"),
                    do_userpassword)
    p.add_argument('address', metavar='ADDRESS')
    group = p.add_mutually_exclusive_group()
    group.add_argument('-p', '--password', help=_('the new password'))
    group.add_argument('--hash', metavar='PWHASH',
                       help=_('store this {SCHEME}hash as it is'))
    p.add_argument('-s', '--scheme',
                   help=_('the password scheme (default: '
                          'misc.password_scheme)'))
    return p


def build_userquota(sub, name, short):
    p = add_command(sub, name, short,
                    _("set an account's quota limit, or 'domain' for the "
                      "domain's"), do_userquota)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('storage', metavar='STORAGE',
                   help=_("bytes with an optional suffix b, k, M or G; 0 = "
                          "unlimited; 'domain' = the domain's limit"))
    p.add_argument('-m', '--messages', metavar='MESSAGES',
                   help=_('the most messages; 0 = unlimited'))
    return p


def build_userservices(sub, name, short):
    p = add_command(sub, name, short,
                    _('set the services an account may use'),
                    do_userservices)
    p.add_argument('address', metavar='ADDRESS')
    group = _services(p)
    group.add_argument('-r', '--reset', action='store_true',
                       help=_("use the domain's services again"))
    return p


def build_usertransport(sub, name, short):
    p = add_command(sub, name, short,
                    _("set an account's transport, or 'domain' for the "
                      "domain's"), do_usertransport)
    p.add_argument('address', metavar='ADDRESS')
    p.add_argument('transport', metavar='TRANSPORT')
    return p


def build_getuser(sub, name, short):
    p = add_command(sub, name, short, _('show the account that has a UID'),
                    do_getuser)
    p.add_argument('uid', metavar='UID', type=uid_number)
    return p


def build_listpwschemes(sub, name, short):
    return add_command(sub, name, short,
                       _('list the usable password schemes'),
                       do_listpwschemes)


BUILDERS = {
    'useradd': build_useradd,
    'userdelete': build_userdelete,
    'userinfo': build_userinfo,
    'username': build_username,
    'userpassword': build_userpassword,
    'usernote': build_usernote,
    'userquota': build_userquota,
    'userservices': build_userservices,
    'usertransport': build_usertransport,
    'getuser': build_getuser,
    'listpwschemes': build_listpwschemes,
}
